package dev.ripple.collab.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.Config;
import dev.ripple.collab.Main;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The operations contract as docker-compose.yml and scripts/local-cluster.sh use it:
 * {@code COLLAB_MODE=cluster} with {@code COLLAB_CONTACT_POINTS} loads cluster.conf and turns the
 * contact points into the bootstrap's config discovery. (ClusterTest builds its nodes' configuration
 * itself, so this is the one test of {@link Main#loadConfig} in cluster mode.)
 */
class ClusterModeConfigTest {
  @Test
  void contactPointsFromTheEnvironmentBecomeTheBootstrapsConfigDiscovery() {
    Config c = Main.loadConfig(Map.of("COLLAB_MODE", "cluster", "COLLAB_CONTACT_POINTS", "node1:8558, node2:8558,node3:8558"));
    assertEquals("cluster", c.getString("ripple.mode"));
    assertEquals("config", c.getString("akka.management.cluster.bootstrap.contact-point-discovery.discovery-method"));
    String service = c.getString("akka.management.cluster.bootstrap.contact-point-discovery.service-name");
    List<String> endpoints = c.getConfigList("akka.discovery.config.services." + service + ".endpoints").stream()
        .map(e -> e.getString("host") + ":" + e.getInt("port"))
        .toList();
    assertEquals(List.of("node1:8558", "node2:8558", "node3:8558"), endpoints);
    assertEquals("org.postgresql.Driver", c.getString("akka-persistence-jdbc.shared-databases.slick.db.driver"));
  }
}
