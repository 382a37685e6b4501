//! Prometheus metrics. Counter handles are registered once, so the EIR path only increments.

use ceir_domain::status::{Basis, EquipmentStatus};
use metrics::{Counter, Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};

const META: Metadata<'static> = Metadata::new("ceir", Level::INFO, Some(module_path!()));

pub struct Metrics {
    recorder: PrometheusRecorder,
    eir: [Counter; 4],
    eir_exception: Counter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A recorder of this server's own: several servers in one test process don't share counts.
    pub fn new() -> Metrics {
        let recorder = PrometheusBuilder::new().build_recorder();
        let eir = ["WHITELISTED", "GREYLISTED", "BLACKLISTED", "UNKNOWN"].map(|s| {
            recorder.register_counter(
                &Key::from_parts("ceir_eir_requests_total", vec![Label::new("status", s)]),
                &META,
            )
        });
        let eir_exception =
            recorder.register_counter(&Key::from_name("ceir_eir_exception_answers_total"), &META);
        Metrics {
            recorder,
            eir,
            eir_exception,
        }
    }

    pub fn eir(&self, status: Option<EquipmentStatus>, basis: Basis) {
        let i = match status {
            Some(EquipmentStatus::Permitted) => 0,
            Some(EquipmentStatus::Tracked) => 1,
            Some(EquipmentStatus::Blocked) => 2,
            None => 3,
        };
        if let Some(c) = self.eir.get(i) {
            c.increment(1);
        }
        if basis == Basis::Exception {
            self.eir_exception.increment(1);
        }
    }

    pub fn http(&self, route: &str, status: u16) {
        self.recorder
            .register_counter(
                &Key::from_parts(
                    "ceir_http_requests_total",
                    vec![
                        Label::new("route", route.to_owned()),
                        Label::new("status", status.to_string()),
                    ],
                ),
                &META,
            )
            .increment(1);
    }

    pub fn gauge(&self, name: &'static str, value: f64) {
        self.recorder
            .register_gauge(&Key::from_name(name), &META)
            .set(value);
    }

    pub fn render(&self) -> String {
        self.recorder.handle().render()
    }
}
