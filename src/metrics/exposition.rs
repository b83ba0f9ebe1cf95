//! The Prometheus text exposition format (version 0.0.4): `# HELP` / `# TYPE` once per
//! family, then its samples; label values escaped (`\\`, `"`, newline); histograms as
//! cumulative `_bucket{le=…}` lines plus `_sum` and `_count`.

use std::fmt::Write;

use super::Histogram;

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Default)]
pub struct Exposition {
    out: String,
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn labels(pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

fn number(v: f64) -> String {
    if v == f64::INFINITY {
        "+Inf".into()
    } else {
        format!("{v}")
    }
}

impl Exposition {
    /// Starts a family: `kind` is `counter`, `gauge` or `histogram`.
    pub fn family(&mut self, name: &str, kind: &str, help: &str) -> &mut Self {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
        self
    }

    pub fn sample(&mut self, name: &str, pairs: &[(&str, &str)], value: f64) -> &mut Self {
        let _ = writeln!(self.out, "{name}{} {}", labels(pairs), number(value));
        self
    }

    pub fn histogram(&mut self, name: &str, pairs: &[(&str, &str)], h: &Histogram) -> &mut Self {
        for (le, count) in h.cumulative() {
            let le = number(le);
            let mut with_le: Vec<(&str, &str)> = pairs.to_vec();
            with_le.push(("le", &le));
            self.sample(&format!("{name}_bucket"), &with_le, count as f64);
        }
        self.sample(&format!("{name}_sum"), pairs, h.sum_seconds());
        self.sample(&format!("{name}_count"), pairs, h.count() as f64)
    }

    pub fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_samples_and_escaping() {
        let mut e = Exposition::default();
        e.family("x_total", "counter", "Xs.")
            .sample("x_total", &[("agent", "a\"b\\c\nd")], 3.0);
        let h = Histogram::new(&[1.0]);
        h.observe(std::time::Duration::from_millis(250));
        e.family("d_seconds", "histogram", "D.")
            .histogram("d_seconds", &[("agent", "a")], &h);
        assert_eq!(
            e.finish(),
            "# HELP x_total Xs.\n# TYPE x_total counter\nx_total{agent=\"a\\\"b\\\\c\\nd\"} 3\n\
             # HELP d_seconds D.\n# TYPE d_seconds histogram\n\
             d_seconds_bucket{agent=\"a\",le=\"1\"} 1\nd_seconds_bucket{agent=\"a\",le=\"+Inf\"} 1\n\
             d_seconds_sum{agent=\"a\"} 0.25\nd_seconds_count{agent=\"a\"} 1\n"
        );
    }
}
