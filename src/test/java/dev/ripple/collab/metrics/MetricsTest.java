package dev.ripple.collab.metrics;


import static dev.ripple.collab.testkit.PrometheusText.sample;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** /metrics through the Prometheus client keeps every name the hand-written exporter had. */
class MetricsTest {
  private static final ActorTestKit KIT = ActorTestKit.create(); // a local provider: no cluster, no sharding

  @AfterAll
  static void stop() {
    KIT.shutdownTestKit();
  }

  /** Every sample name /metrics served before the Prometheus client (operators' dashboards and alerts use them). */
  private static final List<String> NAMES = List.of(
      "ripple_rooms_active", "ripple_connections", "ripple_updates_applied_total", "ripple_update_bytes_total",
      "ripple_journal_writes_total", "ripple_messages_dropped_total", "ripple_client_messages_dropped_total", "ripple_connections_refused_total",
      "ripple_backup_saves_total{result=\"ok\"}", "ripple_backup_saves_total{result=\"failed\"}", "ripple_backup_loads_total",
      "ripple_connections_closed_by_server_total",
      "ripple_journal_write_seconds_bucket{le=\"0.005\"}", "ripple_journal_write_seconds_bucket{le=\"+Inf\"}",
      "ripple_journal_write_seconds_sum", "ripple_journal_write_seconds_count",
      "ripple_fanout_seconds_bucket{le=\"+Inf\"}", "ripple_fanout_seconds_sum", "ripple_fanout_seconds_count",
      "ripple_backup_save_seconds_bucket{le=\"+Inf\"}", "ripple_backup_save_seconds_sum", "ripple_backup_save_seconds_count");

  @Test
  void everyMetricNameOfTheHandWrittenExporterIsStillServed() {
    String body = Metrics.get(KIT.system()).render();
    for (String name : NAMES) assertTrue(body.contains("\n" + name + " "), name + " missing:\n" + body);
    assertTrue(body.contains("# TYPE ripple_updates_applied_total counter"), body);
    assertTrue(body.contains("# TYPE ripple_journal_write_seconds histogram"), body);
  }

  @Test
  void countersAndHistogramsReadTheNodesCounts() {
    Metrics m = Metrics.get(KIT.system());
    double before = sample(m.render(), "ripple_updates_applied_total");
    m.updatesApplied.add(3);
    m.backupSavesFailed.increment();
    m.journalWriteSeconds.observeNanos(3_000_000); // 3 ms: in the 5 ms bucket, not the 2.5 ms one
    String body = m.render();
    assertEquals(before + 3, sample(body, "ripple_updates_applied_total"), body);
    assertTrue(sample(body, "ripple_backup_saves_total{result=\"failed\"}") >= 1, body);
    assertEquals(sample(body, "ripple_journal_write_seconds_bucket{le=\"0.005\"}") - 1,
        sample(body, "ripple_journal_write_seconds_bucket{le=\"0.0025\"}"), body);
  }

  @Test
  void jvmAndProcessMetricsAreServedAndClusterGaugesAreLeftOutWithoutACluster() {
    String body = Metrics.get(KIT.system()).render();
    assertTrue(body.contains("\nprocess_cpu_seconds_total "), body);
    assertTrue(body.contains("\njvm_memory_used_bytes{area=\"heap\"} "), body);
    assertTrue(!body.contains("\nripple_cluster_members{"), body);
    assertTrue(!body.contains("\nripple_shards "), "no shard region asked yet: " + body);
  }
}
