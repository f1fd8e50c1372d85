//! Two small SVG charts for the perf report.
//!
//! Hand-written: the plotting crates need a font backend to lay out labels (system fonts via
//! font-kit), which a CI machine may not have; SVG text needs none, and two charts are a page of
//! code.

const W: f64 = 640.0;
const H: f64 = 360.0;
const PAD: f64 = 50.0;

fn frame(title: &str, body: &str, x_label: &str, y_label: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">{title}</text>\n\
         <line x1=\"{PAD}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\n\
         <line x1=\"{PAD}\" y1=\"{PAD}\" x2=\"{PAD}\" y2=\"{}\" stroke=\"black\"/>\n\
         <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{x_label}</text>\n\
         <text x=\"14\" y=\"{}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {})\">{y_label}</text>\n{body}</svg>\n",
        W / 2.0,
        H - PAD,
        W - PAD,
        H - PAD,
        H - PAD,
        W / 2.0,
        H - 12.0,
        H / 2.0,
        H / 2.0
    )
}

/// A histogram of `values` in `bins` bins.
pub(crate) fn histogram(title: &str, values: &[f64], bins: usize) -> String {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !min.is_finite() || !max.is_finite() {
        return frame(title, "", "", "");
    }
    let width = ((max - min) / bins as f64).max(1e-9);
    let mut counts = vec![0usize; bins];
    for v in values {
        counts[(((v - min) / width) as usize).min(bins - 1)] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let plot_w = W - 2.0 * PAD;
    let plot_h = H - 2.0 * PAD;
    let bar_w = plot_w / bins as f64;
    let mut body = String::new();
    for (i, c) in counts.iter().enumerate() {
        let h = *c as f64 / top * plot_h;
        body.push_str(&format!(
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"#4a7fb5\"/>\n",
            PAD + i as f64 * bar_w + 1.0,
            H - PAD - h,
            bar_w - 2.0
        ));
    }
    for (x, label) in [(PAD, min), (W - PAD, max)] {
        body.push_str(&format!(
            "<text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{label:.2}</text>\n",
            H - PAD + 16.0
        ));
    }
    body.push_str(&format!(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{top}</text>\n",
        PAD - 4.0,
        PAD + 4.0
    ));
    frame(title, &body, "milliseconds", "requests")
}

/// A line chart of `(x, y)` points, optionally with a horizontal reference line.
pub(crate) fn line_chart(
    title: &str,
    points: &[(f64, f64)],
    reference: Option<(&str, f64)>,
) -> String {
    let max_x = points.iter().map(|p| p.0).fold(1.0, f64::max);
    let max_y = points
        .iter()
        .map(|p| p.1)
        .chain(reference.map(|r| r.1))
        .fold(1.0, f64::max)
        * 1.1;
    let sx = |x: f64| PAD + x / max_x * (W - 2.0 * PAD);
    let sy = |y: f64| H - PAD - y / max_y * (H - 2.0 * PAD);
    let mut body = String::new();
    let path: Vec<String> = points
        .iter()
        .map(|(x, y)| format!("{:.1},{:.1}", sx(*x), sy(*y)))
        .collect();
    body.push_str(&format!(
        "<polyline points=\"{}\" fill=\"none\" stroke=\"#4a7fb5\" stroke-width=\"2\"/>\n",
        path.join(" ")
    ));
    for (x, y) in points {
        body.push_str(&format!(
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"#4a7fb5\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{y:.0}</text>\n\
             <text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{x}</text>\n",
            sx(*x),
            sy(*y),
            sx(*x),
            sy(*y) - 8.0,
            sx(*x),
            H - PAD + 16.0
        ));
    }
    if let Some((label, y)) = reference {
        body.push_str(&format!(
            "<line x1=\"{PAD}\" y1=\"{:.1}\" x2=\"{}\" y2=\"{:.1}\" stroke=\"#c0504d\" stroke-dasharray=\"6 4\"/>\n\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#c0504d\">{label} {y:.0}</text>\n",
            sy(y),
            W - PAD,
            sy(y),
            W - PAD,
            sy(y) - 6.0
        ));
    }
    frame(title, &body, "concurrent clients", "requests per second")
}
