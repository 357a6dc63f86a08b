# Ripple collaboration server: one image for every cluster node (docker-compose.yml starts three).
#   docker build -t ripple-collab .
#   docker run -p 1999:1999 -e COLLAB_MODE=single ripple-collab          # one node on H2, no cluster
# Ports: 1999 HTTP/WebSocket, 2552 Artery (cluster traffic), 8558 Akka Management (bootstrap, /alive, /ready).

# ---- build: the Maven wrapper, as on a developer machine (only a JDK needed)
FROM eclipse-temurin:17-jdk AS build
WORKDIR /src
COPY .mvn/ .mvn/
COPY mvnw pom.xml ./
# dependencies in their own layer, so a source change does not download them again (best effort:
# go-offline misses a few plugin dependencies, which the package step then fetches)
RUN ./mvnw -q -B dependency:go-offline || true
COPY conf/ conf/
COPY src/main/ src/main/
RUN ./mvnw -q -B package -DskipTests

# ---- run: a JRE and the shaded jar
FROM eclipse-temurin:17-jre
# curl for the container health checks (GET /ready)
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app ripple \
 && mkdir -p /app/data \
 && chown ripple /app/data
WORKDIR /app
COPY --from=build /src/target/ripple-collab.jar /app/ripple-collab.jar
USER ripple
# cluster mode by default: PostgreSQL journal, Akka Management bootstrap (see conf/cluster.conf);
# COLLAB_HOST must be the address the other nodes reach this one at (the compose service name)
ENV COLLAB_MODE=cluster \
    COLLAB_DATA_DIR=/app/data \
    COLLAB_BIND_HOST=0.0.0.0 \
    COLLAB_MANAGEMENT_BIND_HOST=0.0.0.0 \
    JAVA_OPTS="-XX:MaxRAMPercentage=75"
EXPOSE 1999 2552 8558
# exec: java is PID 1 and gets SIGTERM, which runs coordinated shutdown (close sockets with 1012,
# hand rooms over to the other nodes, leave the cluster) before the JVM exits
ENTRYPOINT ["sh", "-c", "exec java $JAVA_OPTS -jar /app/ripple-collab.jar"]
