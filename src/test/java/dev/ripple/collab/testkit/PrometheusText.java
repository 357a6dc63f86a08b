package dev.ripple.collab.testkit;

/** Reads samples out of the Prometheus text format /metrics serves. */
public final class PrometheusText {
  private PrometheusText() {}

  /** The value of one sample (name with its labels, as written); NaN if absent. */
  public static double sample(String body, String nameAndLabels) {
    for (String line : body.split("\n")) {
      if (line.startsWith(nameAndLabels + " ")) return Double.parseDouble(line.substring(nameAndLabels.length() + 1).trim());
    }
    return Double.NaN;
  }
}
