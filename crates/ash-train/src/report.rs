//! The training report under `target/train/`: Markdown tables, JSON, a reliability diagram and
//! a confusion heat map (hand-written SVG, as in `xtask/src/svg.rs`: no font backend needed).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use ash_config::RiskHeadConfig;

use crate::data::level_name;
use crate::select::{self, Figures, Scored};

/// Writes the report folder: the Markdown report, the confusion maps of validation and test,
/// the reliability diagram on validation (where the temperature was fitted) and the figures as
/// JSON.
pub(crate) fn write_files(
    out: &Path,
    md: &str,
    head: &RiskHeadConfig,
    val_set: &[Scored<'_>],
    val_f: &Figures,
    test_f: &Figures,
) -> Result<()> {
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("report.md"), md)?;
    std::fs::write(
        out.join("confusion-test.svg"),
        confusion_svg("Test split", test_f),
    )?;
    std::fs::write(
        out.join("confusion-validation.svg"),
        confusion_svg("Validation split", val_f),
    )?;
    std::fs::write(
        out.join("reliability-validation.svg"),
        reliability_svg(
            "Reliability (validation)",
            &select::reliability(head, val_set, 10),
        ),
    )?;
    std::fs::write(
        out.join("figures.json"),
        serde_json::to_string_pretty(&serde_json::json!({"validation": val_f, "test": test_f}))?,
    )?;
    Ok(())
}

/// A Markdown section for one set of figures.
pub(crate) fn markdown(title: &str, f: &Figures) -> String {
    let mut s = format!(
        "### {title}\n\n{} messages: accuracy {:.1}%, high/critical recall {:.1}% ({} answered none), cost {:.0}\n\n",
        f.n,
        f.accuracy * 100.0,
        f.crisis_recall * 100.0,
        f.crisis_as_none,
        f.cost
    );
    s.push_str("| level | n | correct | none | low | medium | high | critical |\n|---|---|---|---|---|---|---|---|\n");
    for y in 0..5 {
        let _ = write!(
            s,
            "| {} | {} | {:.1}% |",
            level_name(y),
            f.level_counts[y],
            f.level_accuracy[y] * 100.0
        );
        for p in 0..5 {
            let _ = write!(s, " {} |", f.confusion[y][p]);
        }
        s.push('\n');
    }
    s.push_str("\n| category | n | correct |\n|---|---|---|\n");
    for (category, (right, total)) in &f.categories {
        let _ = writeln!(
            s,
            "| {category} | {total} | {:.0}% |",
            *right as f64 * 100.0 / (*total).max(1) as f64
        );
    }
    s.push('\n');
    s
}

/// Confusion heat map (rows: true level, columns: predicted), shaded by row share.
pub(crate) fn confusion_svg(title: &str, f: &Figures) -> String {
    let cell = 64.0;
    let (x0, y0) = (110.0, 60.0);
    let mut body = String::new();
    for y in 0..5 {
        let row: usize = f.confusion[y].iter().sum();
        for p in 0..5 {
            let n = f.confusion[y][p];
            let share = n as f64 / row.max(1) as f64;
            let shade = (255.0 * (1.0 - share)).round() as u8;
            let (x, yy) = (x0 + p as f64 * cell, y0 + y as f64 * cell);
            let _ = write!(
                body,
                "<rect x=\"{x}\" y=\"{yy}\" width=\"{cell}\" height=\"{cell}\" fill=\"rgb({shade},{shade},255)\" stroke=\"#999\"/>\
                 <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{n}</text>",
                x + cell / 2.0,
                yy + cell / 2.0 + 4.0
            );
        }
        let _ = write!(
            body,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            x0 - 8.0,
            y0 + y as f64 * cell + cell / 2.0 + 4.0,
            level_name(y),
            x0 + y as f64 * cell + cell / 2.0,
            y0 - 8.0,
            level_name(y)
        );
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"460\" height=\"420\" font-family=\"sans-serif\" font-size=\"12\">\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\
         <text x=\"230\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">{title} (rows: true, columns: predicted)</text>{body}</svg>\n"
    )
}

/// Reliability diagram: mean confidence against accuracy per bin, with the diagonal.
pub(crate) fn reliability_svg(title: &str, bins: &[(f64, f64, usize)]) -> String {
    let (x0, y0, size) = (60.0, 40.0, 300.0);
    let mut body = format!(
        "<line x1=\"{x0}\" y1=\"{}\" x2=\"{}\" y2=\"{y0}\" stroke=\"#bbb\" stroke-dasharray=\"4\"/>\
         <rect x=\"{x0}\" y=\"{y0}\" width=\"{size}\" height=\"{size}\" fill=\"none\" stroke=\"black\"/>",
        y0 + size,
        x0 + size
    );
    let width = size / bins.len().max(1) as f64;
    for (i, (conf, acc, n)) in bins.iter().enumerate() {
        if *n == 0 {
            continue;
        }
        let h = acc * size;
        let _ = write!(
            body,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{h}\" fill=\"#6a8fd8\" opacity=\"0.8\"/>\
             <circle cx=\"{}\" cy=\"{}\" r=\"3\" fill=\"#d33\"/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"9\">{n}</text>",
            x0 + i as f64 * width + 1.0,
            y0 + size - h,
            width - 2.0,
            x0 + conf * size,
            y0 + size - conf * size,
            x0 + i as f64 * width + width / 2.0,
            y0 + size + 14.0
        );
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"400\" height=\"400\" font-family=\"sans-serif\" font-size=\"12\">\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\
         <text x=\"200\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">{title}</text>{body}\
         <text x=\"210\" y=\"385\" text-anchor=\"middle\">confidence of the top level (bars: accuracy; dots: mean confidence; counts below)</text></svg>\n"
    )
}

/// One row of a comparison table: `| name | accuracy | recall | crises answered none | cost |`.
pub(crate) fn comparison_row(name: &str, f: &Figures) -> String {
    format!(
        "| {name} | {:.1}% | {:.1}% | {} | {:.0} |\n",
        f.accuracy * 100.0,
        f.crisis_recall * 100.0,
        f.crisis_as_none,
        f.cost
    )
}
