//! The PDF as whoever opens the exported file finds it, read back with a real PDF parser
//! (lopdf): its pages, what each says, how the charts are drawn, what branding changes.

use std::sync::Arc;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use lopdf::{Document, Object, ObjectId};

use super::*;
use crate::codes::pdf::Logo;
use crate::reports::model::*;

const COMPANY: &str = "MBELYCO Paints";

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

fn branded() -> PdfLook {
    PdfLook {
        branding: true,
        include_charts: true,
        company: COMPANY.into(),
        logo: None,
        primary: Rgb(0.043, 0.373, 0.647),
        secondary: Rgb(0.122, 0.161, 0.216),
        accent: Rgb(0.961, 0.62, 0.043),
    }
}

fn logo() -> Arc<Logo> {
    let mut png_bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut png_bytes, 8, 4);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().unwrap();
        w.write_image_data(&[30u8; 8 * 4 * 3]).unwrap();
    }
    Arc::new(Logo::from_png(&png_bytes).expect("a PNG logo"))
}

fn chart(kind: ChartKind, title: &str, days: usize, series: &[&str]) -> Block {
    Block::Chart(Chart {
        title: title.into(),
        kind,
        x_labels: (0..days).map(|i| format!("11-{:02}", i + 1)).collect(),
        series: series
            .iter()
            .enumerate()
            .map(|(s, name)| Series {
                name: (*name).into(),
                values: (0..days).map(|i| ((i * 37 + s * 11) % 23) as f64 * 1500.0).collect(),
            })
            .collect(),
        unit: "RWF".into(),
    })
}

fn heat() -> Block {
    let days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    Block::Chart(Chart {
        title: "Redemptions by hour and weekday".into(),
        kind: ChartKind::Heat,
        x_labels: (0..24).map(|h| format!("{h:02}")).collect(),
        series: days
            .iter()
            .enumerate()
            .map(|(d, name)| Series {
                name: (*name).into(),
                values: (0..24)
                    .map(|h| ((h as f64 - 13.0).abs() * -4.0 + 60.0 + d as f64 * 3.0).max(0.0))
                    .collect(),
            })
            .collect(),
        unit: "redemptions".into(),
    })
}

/// A financial-report-shaped table: a row per day and batch.
fn table(rows: usize) -> Table {
    let batches = [
        "Kivu Blue",
        "Spring 2027 – Northern Province distributors, second wave",
        "Akagera Green",
    ];
    Table {
        name: "Payouts by day and batch".into(),
        columns: vec![
            Column::text("Day"),
            Column::text("Batch"),
            Column::number("Paid"),
            Column::number("Pending"),
            Column::number("Failed"),
            Column::number("Success rate"),
            Column::number("Median time to money"),
        ],
        rows: (0..rows)
            .map(|i| {
                vec![
                    Cell::Day(day(1) + Duration::days((i / 3) as i64)),
                    Cell::Text(batches[i % 3].into()),
                    Cell::Money(1_000 * (i as i64 * 7919 % 1000)),
                    Cell::Money(500 * (i as i64 % 13)),
                    Cell::Int(i as i64 % 5),
                    Cell::Ratio(0.9 + (i % 10) as f64 / 100.0),
                    Cell::Millis(4_000 + 731 * i as i64),
                ]
            })
            .collect(),
        totals: Some(vec![
            Cell::Text("Total".into()),
            Cell::Empty,
            Cell::Money(123_456_000),
            Cell::Money(98_500),
            Cell::Int(412),
            Cell::Ratio(0.947),
            Cell::Millis(9_100),
        ]),
    }
}

fn report(sections: Vec<Section>) -> Report {
    Report {
        kind: Kind::Financial,
        title: "Financial report".into(),
        range: DayRange {
            from: day(1),
            to: day(30),
        },
        filters: vec!["Batch: all".into(), "Network: MTN".into()],
        generated_by: "Aline Uwase".into(),
        generated_at: Utc.with_ymd_and_hms(2026, 12, 7, 12, 5, 0).unwrap(),
        sections,
    }
}

/// A report as the financial one lays out: figures, charts of every kind, a long table, notes.
fn full(rows: usize) -> Report {
    report(vec![
        Section {
            heading: "Summary".into(),
            blocks: vec![
                Block::Figures {
                    figures: vec![
                        Figure {
                            label: "Paid".into(),
                            value: Cell::Money(125_000_000),
                        },
                        Figure {
                            label: "Pending".into(),
                            value: Cell::Money(1_250_000),
                        },
                        Figure {
                            label: "Success rate".into(),
                            value: Cell::Ratio(0.973),
                        },
                        Figure {
                            label: "Median time to money".into(),
                            value: Cell::Millis(8_400),
                        },
                        Figure {
                            label: "Failed".into(),
                            value: Cell::Int(412),
                        },
                    ],
                },
                Block::Note {
                    text: "Totals agree with the payouts list and the MoMo statement to the franc.".into(),
                },
            ],
        },
        Section {
            heading: "Over time".into(),
            blocks: vec![
                chart(
                    ChartKind::StackedBar,
                    "Payouts by state per day",
                    30,
                    &["Paid", "Pending", "Held", "Failed"],
                ),
                chart(ChartKind::Line, "Paid per day", 30, &["Paid"]),
                chart(ChartKind::Bar, "Paid by network", 6, &["MTN", "Airtel"]),
                heat(),
            ],
        },
        Section {
            heading: "Detail".into(),
            blocks: vec![Block::Table(table(rows))],
        },
    ])
}

fn read(bytes: &[u8]) -> (Document, Vec<(u32, ObjectId)>) {
    let doc = Document::load_mem(bytes).expect("a PDF a real parser reads");
    let pages = doc.get_pages().into_iter().collect();
    (doc, pages)
}

fn page_text(doc: &Document, n: u32) -> String {
    doc.extract_text(&[n]).expect("text")
}

/// The operators of a page's content, in order.
fn operators(doc: &Document, page: ObjectId) -> Vec<String> {
    doc.get_and_decode_page_content(page)
        .expect("content")
        .operations
        .into_iter()
        .map(|op| op.operator)
        .collect()
}

fn images(doc: &Document) -> usize {
    doc.objects
        .values()
        .filter(|o| match o {
            Object::Stream(s) => s.dict.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"Image".as_slice()),
            _ => false,
        })
        .count()
}

#[test]
fn every_page_has_its_header_and_says_page_x_of_y() {
    let bytes = render_pdf(&full(400), &branded()).unwrap();
    let (doc, pages) = read(&bytes);
    let total = pages.len();
    assert!(total >= 8, "400 rows and four charts take a few pages: {total}");
    for (n, _) in &pages {
        let text = page_text(&doc, *n);
        assert!(text.contains(&format!("Page {n} of {total}")), "page {n}: {text}");
        assert!(
            text.contains(COMPANY) && text.contains("Financial report"),
            "page {n}: {text}"
        );
        assert!(
            text.contains("Generated by Aline Uwase on 2026-12-07 14:05 (Kigali)"),
            "page {n}: {text}"
        );
    }
    let first = page_text(&doc, 1);
    assert!(
        first.contains("Network: MTN") && first.contains("Kigali days"),
        "{first}"
    );
    assert!(
        first.contains("125,000,000 RWF") && first.contains("97.3%") && first.contains("8.4 s"),
        "{first}"
    );
    let info = doc.trailer.get(b"Info").and_then(Object::as_reference).unwrap();
    let title = doc.get_object(info).unwrap().as_dict().unwrap().get(b"Title").unwrap();
    assert_eq!(lopdf::decode_text_string(title).unwrap(), "Financial report");
}

#[test]
fn a_long_table_continues_across_pages_under_its_header() {
    let r = report(vec![Section {
        heading: "Detail".into(),
        blocks: vec![Block::Table(table(150))],
    }]);
    let (doc, pages) = read(&render_pdf(&r, &branded()).unwrap());
    assert!(pages.len() >= 3, "150 rows run over pages: {}", pages.len());
    let mut days = 0;
    for (n, _) in &pages {
        let text = page_text(&doc, *n);
        assert!(
            text.contains("Median time to money") && text.contains("Success rate"),
            "page {n} header: {text}"
        );
        if *n > 1 {
            assert!(
                text.contains("Payouts by day and batch (continued)"),
                "page {n}: {text}"
            );
        }
        days += text.matches("2026-").count();
    }
    assert!(days >= 150, "every row is there: {days}");
    let last = page_text(&doc, pages.len() as u32);
    assert!(
        last.contains("Total") && last.contains("123,456,000 RWF") && last.contains("9.1 s"),
        "{last}"
    );
    // the long batch name is shortened with an ellipsis, never run into the next column
    let first = page_text(&doc, 1);
    assert!(
        first.contains("Spring 2027") && !first.contains("second wave"),
        "{first}"
    );
    assert!(first.contains('\u{2026}'), "{first}");
}

#[test]
fn charts_are_drawn_as_vector_paths_not_images() {
    let r = report(vec![Section {
        heading: "Charts".into(),
        blocks: vec![
            chart(ChartKind::Bar, "Paid by network", 6, &["MTN", "Airtel"]),
            chart(ChartKind::Line, "Paid per day", 30, &["Paid"]),
            heat(),
        ],
    }]);
    let (doc, pages) = read(&render_pdf(&r, &branded()).unwrap());
    assert_eq!(images(&doc), 0, "no image in a document without a logo");
    let ops: Vec<String> = pages.iter().flat_map(|(_, id)| operators(&doc, *id)).collect();
    let count = |op: &str| ops.iter().filter(|o| *o == op).count();
    assert!(
        count("re") > 6 * 2 + 7 * 24,
        "bars and heat cells are rectangles: {}",
        count("re")
    );
    assert!(count("l") >= 29, "the line is a path: {}", count("l"));
    assert_eq!(count("Do"), 0, "nothing is pasted in as a picture");
    let text: String = pages.iter().map(|(n, _)| page_text(&doc, *n)).collect();
    assert!(
        text.contains("Paid by network") && text.contains("Airtel") && text.contains("Sun"),
        "{text}"
    );
    // without charts the figures and tables stay, the charts go
    let look = PdfLook {
        include_charts: false,
        ..branded()
    };
    let (doc, _) = read(&render_pdf(&full(10), &look).unwrap());
    let text = page_text(&doc, 1);
    assert!(
        !text.contains("Paid by network") && text.contains("Payouts by day and batch"),
        "{text}"
    );
}

#[test]
fn branding_off_leaves_out_the_logo_the_name_and_the_colours() {
    let with_logo = PdfLook {
        logo: Some(logo()),
        ..branded()
    };
    let (doc, pages) = read(&render_pdf(&full(40), &with_logo).unwrap());
    assert_eq!(images(&doc), 1, "the logo is stored once");
    for (n, id) in &pages {
        assert_eq!(
            operators(&doc, *id).iter().filter(|o| *o == "Do").count(),
            1,
            "logo on page {n}"
        );
    }
    let plain = PdfLook {
        branding: false,
        ..with_logo
    };
    let (doc, pages) = read(&render_pdf(&full(40), &plain).unwrap());
    assert_eq!(images(&doc), 0, "no logo image object");
    for (n, id) in &pages {
        let text = page_text(&doc, *n);
        assert!(
            !text.contains(COMPANY) && text.contains("Financial report"),
            "page {n}: {text}"
        );
        // colours are set as equal red, green and blue: greys
        let content = doc.get_and_decode_page_content(*id).unwrap();
        for op in content
            .operations
            .iter()
            .filter(|o| o.operator == "rg" || o.operator == "RG")
        {
            let v: Vec<f32> = op.operands.iter().map(|o| o.as_float().unwrap()).collect();
            assert!(v[0] == v[1] && v[1] == v[2], "page {n}: a colour {v:?}");
        }
    }
}

#[test]
fn any_text_keeps_the_file_whole() {
    let mut r = full(20);
    r.title = "Ripoti (Kinyarwanda) \\ Отчёт 报告 🎨 – “final”".into();
    r.generated_by = "Schedule: weekly ) (".into();
    r.sections[0].heading = "Ibyavuye mu bikorwa\u{0}\n\t".into();
    let mut look = branded();
    look.company = "Société Générale de Peinture ©".into();
    let (doc, pages) = read(&render_pdf(&r, &look).unwrap());
    let text = page_text(&doc, 1);
    assert!(
        text.contains("Société Générale de Peinture ©"),
        "Latin-1 is kept: {text}"
    );
    assert!(
        text.contains("Ripoti (Kinyarwanda) \\ ?????"),
        "the rest prints as ?: {text}"
    );
    assert!(!pages.is_empty());
    // an empty report and empty parts still make a document
    let mut empty = report(vec![Section {
        heading: "Nothing".into(),
        blocks: vec![
            Block::Figures { figures: vec![] },
            Block::Chart(Chart {
                title: "None".into(),
                kind: ChartKind::Line,
                x_labels: vec![],
                series: vec![],
                unit: String::new(),
            }),
            Block::Chart(Chart {
                title: "Odd".into(),
                kind: ChartKind::Bar,
                x_labels: vec!["a".into()],
                series: vec![Series {
                    name: "x".into(),
                    values: vec![f64::NAN, f64::INFINITY, -3.0],
                }],
                unit: "%".into(),
            }),
            Block::Table(Table {
                name: "No rows".into(),
                columns: vec![Column::text("A")],
                rows: vec![],
                totals: None,
            }),
        ],
    }]);
    let (doc, pages) = read(&render_pdf(&empty, &branded()).unwrap());
    assert_eq!(pages.len(), 1);
    assert!(page_text(&doc, 1).contains("No data for this period."));
    empty.sections.clear();
    read(&render_pdf(&empty, &PdfLook::plain()).unwrap());
}

#[test]
fn a_report_too_long_for_a_pdf_is_refused_before_it_is_laid_out() {
    let r = report(vec![Section {
        heading: "All".into(),
        blocks: vec![Block::Table(table(200_000))],
    }]);
    assert!(matches!(
        render_pdf(&r, &branded()),
        Err(PdfError::TooLong { max: MAX_PAGES, .. })
    ));
}

/// A 50-page branded report with charts, in one pass. Prints the time (no assertion: figures
/// come from `mbelyco bench reports`); `MBELYCO_PDF_SAMPLE=/tmp/x.pdf` keeps the file to look at.
#[test]
fn a_fifty_page_report_with_charts_renders_in_one_pass() {
    let mut r = full(2_400);
    for k in 0..5 {
        r.sections.push(Section {
            heading: format!("Batch {k}"),
            blocks: vec![
                chart(
                    ChartKind::StackedBar,
                    "Redemptions by state",
                    30,
                    &["Paid", "Pending", "Held", "Failed"],
                ),
                heat(),
            ],
        });
    }
    let look = PdfLook {
        logo: Some(logo()),
        ..branded()
    };
    let started = std::time::Instant::now();
    let bytes = render_pdf(&r, &look).unwrap();
    let took = started.elapsed();
    let (_, pages) = read(&bytes);
    println!(
        "{} pages, {} KiB, rendered in {took:?}",
        pages.len(),
        bytes.len() / 1024
    );
    assert!(pages.len() >= 50, "{} pages", pages.len());
    if let Ok(path) = std::env::var("MBELYCO_PDF_SAMPLE") {
        std::fs::write(&path, &bytes).unwrap();
        let plain = PdfLook {
            branding: false,
            ..look
        };
        std::fs::write(format!("{path}.plain.pdf"), render_pdf(&full(60), &plain).unwrap()).unwrap();
    }
}
