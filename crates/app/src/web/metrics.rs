//! Prometheus metrics: request counts and latencies by route, and job queue depth by state,
//! in the text exposition format at `GET /api/metrics`.

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CheckLabels {
    pub check: String,
}

type FloatGauge = Gauge<f64, std::sync::atomic::AtomicU64>;

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram>,
    pub jobs: Family<StateLabels, Gauge>,
    pub ussd_hops: Family<OutcomeLabels, Counter>,
    pub audit_unsealed: Gauge,
    pub worker_heartbeat_age: Gauge<f64, std::sync::atomic::AtomicU64>,
    /// The monitor's checks (`crate::monitor::export`).
    pub monitor_ok: Family<CheckLabels, Gauge>,
    pub monitor_value: Family<CheckLabels, FloatGauge>,
    pub monitor_limit: Family<CheckLabels, FloatGauge>,
    /// Response times since this process last reported them (`crate::monitor::latency`).
    pub recent: crate::monitor::latency::LatencyWindow,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

pub const JOB_STATES: [&str; 5] = ["queued", "running", "succeeded", "dead", "cancelled"];

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("mbelyco");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
        });
        let jobs = Family::<StateLabels, Gauge>::default();
        let audit_unsealed = Gauge::default();
        let ussd_hops = Family::<OutcomeLabels, Counter>::default();
        let worker_heartbeat_age = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        registry.register("jobs", "Background jobs by state", jobs.clone());
        registry.register("ussd_hops", "USSD hops answered, by outcome", ussd_hops.clone());
        registry.register(
            "audit_unsealed_rows",
            "Audit rows not yet sealed into the hash chain",
            audit_unsealed.clone(),
        );
        registry.register(
            "worker_heartbeat_age_seconds",
            "Seconds since the freshest worker heartbeat (-1: none)",
            worker_heartbeat_age.clone(),
        );
        let monitor_ok = Family::<CheckLabels, Gauge>::default();
        let monitor_value = Family::<CheckLabels, FloatGauge>::default();
        let monitor_limit = Family::<CheckLabels, FloatGauge>::default();
        registry.register(
            "monitor_check_ok",
            "Health checks: 1 within the limit, 0 past it or failed (absent while off)",
            monitor_ok.clone(),
        );
        registry.register(
            "monitor_check_value",
            "Health checks: the last reading (percent, or milliseconds)",
            monitor_value.clone(),
        );
        registry.register(
            "monitor_check_limit",
            "Health checks: the limit from the backup settings",
            monitor_limit.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            jobs,
            ussd_hops,
            audit_unsealed,
            worker_heartbeat_age,
            monitor_ok,
            monitor_value,
            monitor_limit,
            recent: Default::default(),
        }
    }
}

impl Metrics {
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .observe(seconds);
        self.recent.observe(seconds);
    }

    pub fn ussd_hop(&self, outcome: &str) {
        self.ussd_hops
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
