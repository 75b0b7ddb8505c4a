//! What one scenario run measured, printed as text or JSON.

use std::fmt;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latencies in microseconds, from the send time in the payload to the delivery's decode.
#[derive(Debug, Clone)]
pub struct Latencies(Histogram<u64>);

impl Default for Latencies {
    fn default() -> Self {
        // 1 µs to 1 h at three significant digits.
        Self(Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds"))
    }
}

impl Latencies {
    /// Records one latency.
    pub fn record(&mut self, micros: u64) {
        self.0.saturating_record(micros.max(1));
    }

    /// Adds another subscriber's latencies.
    pub fn merge(&mut self, other: &Self) {
        // Same bounds on both sides: adding cannot fail.
        let _ = self.0.add(&other.0);
    }

    /// p50, p99 and max, or `None` with no sample.
    pub fn summary(&self) -> Option<LatencySummary> {
        (!self.0.is_empty()).then(|| LatencySummary {
            p50_us: self.0.value_at_quantile(0.50),
            p99_us: self.0.value_at_quantile(0.99),
            max_us: self.0.max(),
        })
    }
}

/// Percentiles of one run's latencies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LatencySummary {
    /// Median, µs.
    pub p50_us: u64,
    /// 99th percentile, µs.
    pub p99_us: u64,
    /// Largest, µs.
    pub max_us: u64,
}

/// The broker process's use of the machine during the measured part of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct BrokerUsage {
    /// CPU seconds (user + system) used while measuring.
    pub cpu_seconds: f64,
    /// The largest resident set seen (sampled every 10 ms), bytes.
    pub peak_rss_bytes: u64,
    /// Resident set at the end of the run, after the traffic stopped, bytes.
    pub end_rss_bytes: u64,
}

/// The result of one scenario against one broker.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// The scenario's name.
    pub scenario: String,
    /// The broker's label (`compare`) or address.
    pub broker: String,
    /// Messages published.
    pub published: u64,
    /// Deliveries expected for those messages (publishes times subscribers matching).
    pub expected: u64,
    /// Deliveries received.
    pub delivered: u64,
    /// Deliveries received while measuring (the CPU figures are per one of these).
    pub delivered_measured: u64,
    /// Seconds measured.
    pub seconds: f64,
    /// Deliveries per second over the measured part.
    pub deliveries_per_second: f64,
    /// Latency from publish to delivery.
    pub latency: Option<LatencySummary>,
    /// Connections opened (idle scenario).
    pub connections: u64,
    /// Connections opened per second (idle scenario).
    pub connects_per_second: f64,
    /// Connections that failed to open or to answer a PINGREQ.
    pub errors: u64,
    /// Broker memory per idle connection, bytes (idle scenario, with a PID).
    pub rss_per_connection: Option<f64>,
    /// What the broker process used, when its PID is known.
    pub broker_usage: Option<BrokerUsage>,
}

impl Report {
    /// Broker CPU time per delivery (per connection in the idle scenario), µs.
    pub fn cpu_us_per_unit(&self) -> Option<f64> {
        let units = if self.delivered_measured > 0 {
            self.delivered_measured
        } else {
            self.connections
        };
        let usage = self.broker_usage?;
        (units > 0).then(|| usage.cpu_seconds * 1e6 / units as f64)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} against {}", self.scenario, self.broker)?;
        if self.connections > 0 {
            writeln!(
                f,
                "  connections: {} in {:.2} s ({:.0}/s), {} errors",
                self.connections, self.seconds, self.connects_per_second, self.errors
            )?;
            if let Some(per) = self.rss_per_connection {
                writeln!(f, "  broker memory per idle connection: {per:.0} B")?;
            }
        } else {
            writeln!(
                f,
                "  {} published, {} of {} deliveries in {:.2} s: {:.0} deliveries/s",
                self.published,
                self.delivered,
                self.expected,
                self.seconds,
                self.deliveries_per_second
            )?;
        }
        if let Some(latency) = self.latency {
            writeln!(
                f,
                "  latency p50 {} µs, p99 {} µs, max {} µs",
                latency.p50_us, latency.p99_us, latency.max_us
            )?;
        }
        if let Some(usage) = self.broker_usage {
            write!(
                f,
                "  broker: {:.2} CPU s, peak RSS {:.1} MB, RSS at end {:.1} MB",
                usage.cpu_seconds,
                usage.peak_rss_bytes as f64 / 1e6,
                usage.end_rss_bytes as f64 / 1e6
            )?;
            if let Some(cpu) = self.cpu_us_per_unit() {
                let unit = if self.delivered_measured > 0 {
                    "delivery"
                } else {
                    "connection"
                };
                write!(f, ", {cpu:.2} CPU µs per {unit}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}
