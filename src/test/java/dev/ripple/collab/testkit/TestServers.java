package dev.ripple.collab.testkit;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.ripple.collab.Main;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * The in-process server of the end-to-end tests: a fresh data directory under target/, HTTP on
 * 127.0.0.1 on a port of its own (0), the test's settings over application.conf over reference.conf,
 * resolved after overriding (the H2 URL derives from the data directory).
 */
public final class TestServers {
  private TestServers() {}

  /** A fresh directory under target/ whose name starts with {@code prefix}. */
  public static Path dataDir(String prefix) throws IOException {
    return Files.createTempDirectory(Path.of("target").toAbsolutePath(), prefix);
  }

  /** The settings every test server has: port 0, bind host 127.0.0.1, data in {@code data} (a map to add to). */
  public static Map<String, Object> loopback(Path data) {
    return new HashMap<>(Map.of(
        "ripple.http.port", 0, "ripple.http.bind-host", "127.0.0.1", "ripple.data-dir", data.toString()));
  }

  /** These settings over application.conf over reference.conf, resolved. */
  public static Config config(Map<String, ?> settings) {
    return ConfigFactory.parseMap(settings)
        .withFallback(ConfigFactory.parseResources("application.conf"))
        .withFallback(ConfigFactory.defaultReference())
        .resolve();
  }

  /** {@link #loopback} for {@code data}, nothing else over application.conf. */
  public static Config config(Path data) {
    return config(loopback(data));
  }

  /** {@link #loopback} for {@code data} and then {@code settings} over application.conf. */
  public static Config config(Path data, Map<String, ?> settings) {
    Map<String, Object> all = loopback(data);
    all.putAll(settings);
    return config(all);
  }

  /** A server with {@link #config(Path, Map)}. */
  public static Main.Server start(Path data, Map<String, ?> settings) throws Exception {
    return Main.start(config(data, settings));
  }

  /** The limit tests' server: a fresh data directory named after {@code name}, no warm-up, these settings. */
  public static Main.Server embedded(String name, Map<String, ?> settings) throws Exception {
    Map<String, Object> all = loopback(dataDir(name + "-data"));
    all.put("ripple.warmup.enabled", false);
    all.putAll(settings);
    return Main.start(config(all));
  }

  /** Ports handed out by {@link #freePort} in this JVM: never twice. */
  private static final java.util.Set<Integer> handedOut = java.util.concurrent.ConcurrentHashMap.newKeySet();

  /**
   * A loopback port free a moment ago, for a server started in another process or later. Drawn below
   * Linux's ephemeral range (32768-60999), not from it: a port the kernel picked for us (port 0) is one
   * it may give again, between our check and the server's bind, as the source port of any outgoing
   * connection (a node's to PostgreSQL, a proxy's listener): a process test once failed so, "Address
   * already in use" on a port chosen this way.
   */
  public static int freePort() throws IOException {
    java.util.concurrent.ThreadLocalRandom random = java.util.concurrent.ThreadLocalRandom.current();
    for (int attempt = 0; attempt < 1000; attempt++) {
      int port = 20000 + random.nextInt(12000);
      if (!handedOut.add(port)) continue;
      try (ServerSocket s = new ServerSocket()) {
        s.bind(new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1);
        return port;
      } catch (IOException inUse) {
        // taken: another
      }
    }
    throw new IOException("no free loopback port in 20000-31999 after 1000 attempts");
  }
}
