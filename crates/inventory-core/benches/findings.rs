//! CPU cost of reading a scanner's document: a 5,000-finding trivy JSON (descriptions, references
//! and CVSS kept, as trivy prints them) parsed and normalised, beside a `serde_json::Value` parse
//! of the same bytes; then chunking the findings for storage and merging two scanners' findings.
//! Then the hostile documents of issue 32, refused: 20 million empty findings (what a 64 KiB gzip
//! body inflates to) and 70,000 repo digests, beside a parse that only skips over the same bytes.
//! Then the threat data: a full-size EPSS file (300,000 rows, gzip-compressed as FIRST publishes
//! it) parsed and checked, beside a plain `csv` read of the same bytes, CPU and peak memory.
//! Then VEX documents: 10,000 OpenVEX statements (and a CycloneDX VEX of as many analyses) read
//! into scoped statements, beside a `serde_json::Value` parse of the same bytes.
//! Then SBOMs: debsbom's Debian system (1,147 components, CycloneDX 1.7, and the same system in
//! SPDX 2.3) read and normalised to purls, beside a `serde_json::Value` parse of the same bytes.
//! Run with `make bench`; numbers are recorded in BENCHMARKS.md.

use inventory_core::findings::{chunk_findings, merge, parse_findings};
use inventory_core::sbom::parse_sbom;
use inventory_core::threat::{epss, EpssFeed};
use inventory_core::vex::{parse_document, Expiry};
use serde_json::{json, Value};
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The system allocator, with the bytes in use and their peak counted.
struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = IN_USE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(pointer, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The most memory `run` holds at once beyond what was held before it, in MB.
fn peak_megabytes(run: impl FnOnce()) -> f64 {
    let before = IN_USE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    run();
    (PEAK.load(Ordering::Relaxed) - before) as f64 / 1e6
}

/// `cargo bench` passes `--bench`; under `cargo test` one run checks the bench still works.
fn runs() -> usize {
    if std::env::args().any(|arg| arg == "--bench") {
        30
    } else {
        1
    }
}

fn measure(name: &str, mut run: impl FnMut()) -> Duration {
    run();
    let runs = runs();
    let mut samples: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            run();
            started.elapsed()
        })
        .collect();
    samples.sort();
    let median = samples[samples.len() / 2];
    println!("{name:<52} median {:>9.3} ms over {runs} runs", median.as_secs_f64() * 1e3);
    median
}

/// A trivy document of `count` findings over 50 results, each finding shaped like the fixture's
/// (a paragraph of description, 20 references, CVSS from two sources).
fn trivy_document(count: usize) -> Vec<u8> {
    let fixture: Value = serde_json::from_str(include_str!("../../../tests/fixtures/scanners/trivy.json")).unwrap();
    let template = fixture["Results"][0]["Vulnerabilities"][0].clone();
    let severities = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"];
    let results: Vec<Value> = (0..50)
        .map(|r| {
            let vulnerabilities: Vec<Value> = (0..count / 50)
                .map(|n| {
                    let mut finding = template.clone();
                    finding["VulnerabilityID"] = json!(format!("CVE-2024-{:05}", r * 1000 + n));
                    finding["PkgName"] = json!(format!("package-{}", n % 400));
                    finding["Severity"] = json!(severities[n % severities.len()]);
                    finding
                })
                .collect();
            json!({"Target": format!("layer-{r}"), "Class": "os-pkgs", "Type": "alpine", "Vulnerabilities": vulnerabilities})
        })
        .collect();
    let mut document = fixture.clone();
    document["Results"] = json!(results);
    serde_json::to_vec(&document).unwrap()
}

fn main() {
    let body = trivy_document(5_000);
    println!("trivy document: 5,000 findings, {} bytes", body.len());
    let baseline = measure("baseline: serde_json::from_slice::<Value>", || {
        black_box(serde_json::from_slice::<Value>(black_box(&body)).unwrap());
    });
    let parse = measure("detect + parse + normalise (parse_findings)", || {
        black_box(parse_findings(black_box(&body)).unwrap());
    });
    println!("ratio to the Value parse: {:.2}", parse.as_secs_f64() / baseline.as_secs_f64());
    let document = parse_findings(&body).unwrap();
    assert_eq!(document.findings.len(), 5_000);
    measure("chunk for storage (JSON, at most 300 KB a chunk)", || {
        black_box(chunk_findings(black_box(&document.findings)));
    });
    let stored: usize = chunk_findings(&document.findings).iter().map(Vec::len).sum();
    println!("stored: {stored} bytes of JSON, {} bytes a finding, before gzip", stored / document.findings.len());
    measure("merge with a second scanner's 5,000 findings", || {
        black_box(merge([("trivy", document.findings.as_slice()), ("grype", document.findings.as_slice())]));
    });
    hostile_documents();
    epss_feed();
    vex_documents();
    sbom_documents();
}

/// The real SBOMs of `tests/fixtures/sboms`, parsed and normalised beside a `Value` parse.
fn sbom_documents() {
    for name in ["debian-bookworm-system.cdx.json", "debian-bookworm-system.spdx.json"] {
        let path = format!("{}/../../tests/fixtures/sboms/{name}.gz", env!("CARGO_MANIFEST_DIR"));
        let body = inventory_core::gzip::decompress(&std::fs::read(path).unwrap()).unwrap();
        let document = parse_sbom(&body).unwrap();
        println!("{name}: {} bytes, {} packages", body.len(), document.packages.len());
        let baseline = measure("baseline: serde_json::from_slice::<Value>", || {
            black_box(serde_json::from_slice::<Value>(black_box(&body)).unwrap());
        });
        let parse = measure("detect + parse + normalise to purls (parse_sbom)", || {
            black_box(parse_sbom(black_box(&body)).unwrap());
        });
        println!("ratio to the Value parse: {:.2}", parse.as_secs_f64() / baseline.as_secs_f64());
    }
}

/// An OpenVEX document of `count` statements, each about one package of one image, shaped like
/// a vendor's (a product with a subcomponent, a justification, notes), and a CycloneDX VEX of as
/// many analyses of one image's components.
fn vex_documents() {
    let digest = |n: usize| format!("sha256:{n:064x}");
    let count = 10_000;
    let statements: Vec<Value> = (0..count)
        .map(|n| {
            json!({
                "vulnerability": {"name": format!("CVE-2024-{n:05}"), "aliases": [format!("GHSA-xxxx-{n:04}")]},
                "products": [{"@id": format!("pkg:oci/app@{}?repository_url=registry.example.com/team/app", digest(n % 50)),
                              "subcomponents": [{"@id": format!("pkg:deb/debian/package-{}@1.{}", n % 400, n % 7)}]}],
                "status": "not_affected",
                "justification": "vulnerable_code_not_in_execute_path",
                "status_notes": "The vulnerable function is not reachable from the service's entry points.",
                "timestamp": "2026-12-01T00:00:00Z"
            })
        })
        .collect();
    let openvex = serde_json::to_vec(&json!({
        "@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://vendor.example.com/vex/1",
        "author": "Vendor", "timestamp": "2026-12-01T00:00:00Z", "version": 1, "statements": statements
    }))
    .unwrap();
    let components: Vec<Value> = (0..400)
        .map(|n| json!({"type": "library", "bom-ref": format!("c{n}"), "name": format!("package-{n}"), "purl": format!("pkg:deb/debian/package-{n}@1.0")}))
        .collect();
    let vulnerabilities: Vec<Value> = (0..count)
        .map(|n| json!({"id": format!("CVE-2024-{n:05}"), "analysis": {"state": "not_affected", "justification": "code_not_reachable", "detail": "Not reachable."}, "affects": [{"ref": format!("c{}", n % 400)}]}))
        .collect();
    let cyclonedx = serde_json::to_vec(&json!({
        "bomFormat": "CycloneDX", "specVersion": "1.6", "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
        "metadata": {"component": {"type": "container", "bom-ref": "image", "name": "app", "purl": format!("pkg:oci/app@{}", digest(1))}},
        "components": components, "vulnerabilities": vulnerabilities
    }))
    .unwrap();
    let now = "2026-12-07T00:00:00Z".parse().unwrap();
    for (name, body) in [("OpenVEX", &openvex), ("CycloneDX VEX", &cyclonedx)] {
        println!("{name} document: {count} statements, {} bytes", body.len());
        let baseline = measure("baseline: serde_json::from_slice::<Value>", || {
            black_box(serde_json::from_slice::<Value>(black_box(body)).unwrap());
        });
        let parse = measure("detect + parse + scope (parse_document)", || {
            black_box(parse_document(black_box(body), Expiry::default(), now).unwrap());
        });
        println!("ratio to the Value parse: {:.2}", parse.as_secs_f64() / baseline.as_secs_f64());
        assert_eq!(parse_document(body, Expiry::default(), now).unwrap().statements.len(), count);
    }
}

/// A full-size EPSS file, gzip-compressed as FIRST publishes it.
fn epss_file(rows: usize) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(epss::synthetic(rows, "2026-12-06", 34).as_bytes()).unwrap();
    encoder.finish().unwrap()
}

fn epss_feed() {
    let rows = if runs() > 1 { 300_000 } else { 30_000 };
    let file = epss_file(rows);
    println!("EPSS file: {rows} rows, {} bytes gzip-compressed", file.len());
    let baseline = || {
        let decoder = flate2::read::MultiGzDecoder::new(black_box(&file[..]));
        let mut reader = csv::ReaderBuilder::new().comment(Some(b'#')).from_reader(decoder);
        let mut record = csv::ByteRecord::new();
        let mut count = 0;
        while reader.read_byte_record(&mut record).unwrap() {
            count += record.len();
        }
        black_box(count);
    };
    let plain = measure("baseline: gunzip + csv ByteRecord read", baseline);
    let parse = measure("EpssFeed::parse (gunzip, check, sort)", || {
        black_box(EpssFeed::parse(black_box(&file)).unwrap());
    });
    println!("ratio to the plain read: {:.2}", parse.as_secs_f64() / plain.as_secs_f64());
    let plain_peak = peak_megabytes(baseline);
    let parse_peak = peak_megabytes(|| {
        black_box(EpssFeed::parse(&file).unwrap());
    });
    println!(
        "peak memory: plain read {plain_peak:.1} MB, EpssFeed::parse {parse_peak:.1} MB (the feed held: {rows} rows)"
    );
}

/// Refused documents: the time to the answer against a pass that skips every byte once.
fn hostile_documents() {
    let empty_findings =
        format!("{{\"SchemaVersion\": 2, \"Results\": [{{\"Vulnerabilities\": [{}{{}}]}}]}}", "{},".repeat(20_000_000));
    let digests: Vec<String> = (0..70_000).map(|n| format!("registry.example/app@sha256:{n:064x}")).collect();
    let many_digests = json!({"SchemaVersion": 2, "Metadata": {"RepoDigests": digests}, "Results": []}).to_string();
    for (name, body) in [("20,000,000 empty findings", empty_findings), ("70,000 repo digests", many_digests)] {
        println!("hostile document: {name}, {} bytes", body.len());
        let skip = measure("baseline: serde_json::from_slice::<IgnoredAny>", || {
            black_box(serde_json::from_slice::<serde::de::IgnoredAny>(black_box(body.as_bytes())).unwrap());
        });
        let refused = measure("refused by parse_findings", || {
            black_box(parse_findings(black_box(body.as_bytes())).unwrap_err());
        });
        println!("ratio to the skipping pass: {:.2}", refused.as_secs_f64() / skip.as_secs_f64());
    }
}
