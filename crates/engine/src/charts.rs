//! Charts for dashboards and reports, drawn on the server as SVG with `plotters` (SVG backend
//! only: no JavaScript, nothing to download in the browser).

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One series of a bar or line chart.
pub struct Series<'a> {
    /// Legend text.
    pub name: &'a str,
    /// One value per category.
    pub values: Vec<f64>,
    /// `#rrggbb`-like colour.
    pub color: RGBColor,
}

/// Colours of the series, in order.
pub const PALETTE: [RGBColor; 4] =
    [RGBColor(37, 99, 235), RGBColor(220, 38, 38), RGBColor(22, 163, 74), RGBColor(202, 138, 4)];

fn max_of(series: &[Series<'_>], stacked: bool) -> f64 {
    let n = series.first().map_or(0, |s| s.values.len());
    let m = if stacked {
        (0..n).map(|i| series.iter().map(|s| s.values.get(i).copied().unwrap_or(0.0)).sum::<f64>()).fold(0.0, f64::max)
    } else {
        series.iter().flat_map(|s| s.values.iter().copied()).fold(0.0, f64::max)
    };
    if m <= 0.0 || !m.is_finite() { 1.0 } else { m * 1.1 }
}

/// Writes each category's label centred under its slot (plotters puts tick labels at round
/// numbers, not at slot centres).
fn category_labels<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    chart: &ChartContext<
        '_,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    labels: &[String],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let style = TextStyle::from(("sans-serif", 11).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    for (i, l) in labels.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
        root.draw(&Text::new(l.clone(), (x, y + 6), style.clone()))?;
    }
    Ok(())
}

/// Grouped (or stacked) bars, one group per category label.
pub fn bars(title: &str, labels: &[String], series: &[Series<'_>], stacked: bool) -> String {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (640, 260)).into_drawing_area();
        if draw_bars(&root, title, labels, series, stacked).is_err() {
            return String::new();
        }
        if root.present().is_err() {
            return String::new();
        }
    }
    out
}

fn draw_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    labels: &[String],
    series: &[Series<'_>],
    stacked: bool,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let n = labels.len().max(1);
    let ymax = max_of(series, stacked);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 16))
        .margin(8)
        .x_label_area_size(28)
        .y_label_area_size(48)
        .build_cartesian_2d(0f64..n as f64, 0f64..ymax)?;
    chart.configure_mesh().disable_x_mesh().x_labels(0).draw()?;
    category_labels(root, &chart, labels)?;
    let k = series.len().max(1) as f64;
    for (si, s) in series.iter().enumerate() {
        let color = s.color;
        let rects = s.values.iter().enumerate().map(|(i, &v)| {
            let (x0, x1, y0) = if stacked {
                let below: f64 = series[..si].iter().map(|p| p.values.get(i).copied().unwrap_or(0.0)).sum();
                (i as f64 + 0.15, i as f64 + 0.85, below)
            } else {
                let w = 0.7 / k;
                (i as f64 + 0.15 + w * si as f64, i as f64 + 0.15 + w * (si as f64 + 1.0), 0.0)
            };
            Rectangle::new([(x0, y0), (x1, y0 + v)], color.filled())
        });
        chart
            .draw_series(rects)?
            .label(s.name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
    }
    if series.len() > 1 {
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    }
    Ok(())
}

/// Lines over categories.
pub fn lines(title: &str, labels: &[String], series: &[Series<'_>]) -> String {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (640, 260)).into_drawing_area();
        if draw_lines(&root, title, labels, series).is_err() || root.present().is_err() {
            return String::new();
        }
    }
    out
}

fn draw_lines<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    labels: &[String],
    series: &[Series<'_>],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let n = labels.len().max(1);
    let ymax = max_of(series, false);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 16))
        .margin(8)
        .x_label_area_size(28)
        .y_label_area_size(48)
        .build_cartesian_2d(0f64..n as f64, 0f64..ymax)?;
    chart.configure_mesh().x_labels(0).draw()?;
    category_labels(root, &chart, labels)?;
    for s in series {
        let color = s.color;
        chart
            .draw_series(LineSeries::new(
                s.values.iter().enumerate().map(|(i, &v)| (i as f64 + 0.5, v)),
                color.stroke_width(2),
            ))?
            .label(s.name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 12, y)], color.stroke_width(2)));
    }
    if series.len() > 1 {
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_render_one_rect_per_value() {
        let labels = vec!["Mon".to_owned(), "Tue".to_owned()];
        let svg = bars(
            "Volume",
            &labels,
            &[Series { name: "conversations", values: vec![3.0, 5.0], color: PALETTE[0] }],
            false,
        );
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("Volume") && svg.contains("Mon") && svg.contains("Tue"));
        assert!(svg.matches("<rect").count() >= 2);
        assert!(!svg.contains("<script"));
    }
}
