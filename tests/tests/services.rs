//! Services, maintenance page and cache purge, end to end: the demo app runs as the host's
//! `command` service; `bascule apply` stops it, shows the 503 page (from Bascule itself in
//! builtin mode, from a real nginx in flag-file mode), switches the code, purges the cache and
//! starts it again. A service that will not stop, or will not start, rolls everything back:
//! the app runs the old code again, and the whole host state is as before. Behind an nginx
//! serving https:// with a certificate from a private CA, the smoke tests and samples of a run
//! go over TLS, trusting the CA the host profile names.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bascule_tests::{
    bascule, fixture_bundle, generate, text, untar, DemoHost, HostState, PausedApply,
    RunningServices,
};

fn setup(sites: usize) -> (tempfile::TempDir, DemoHost, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let demo = generate(&dir.path().join("host"), sites).unwrap();
    let bundle = untar(&fixture_bundle("2.0.0"), &dir.path().join("delivery")).unwrap();
    (dir, demo, bundle)
}

/// Rewrites the host profile: every `(from, to)` replacement must apply.
fn edit_profile(demo: &DemoHost, edits: &[(&str, &str)]) {
    let mut text = std::fs::read_to_string(&demo.host_profile).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "host.toml has no `{from}`:\n{text}");
        text = text.replace(from, to);
    }
    std::fs::write(&demo.host_profile, text).unwrap();
}

/// A real HTTP GET from `source` (a loopback address of our choice) to `addr`.
fn http_get_from(source: [u8; 4], addr: SocketAddr, path: &str) -> String {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&SocketAddr::from((source, 0)).into()).unwrap();
    socket.connect(&addr.into()).unwrap();
    let mut stream: TcpStream = socket.into();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

fn http_get(addr: SocketAddr, path: &str) -> String {
    http_get_from([127, 0, 0, 1], addr, path)
}

fn web_addr(demo: &DemoHost) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], demo.web_port))
}

fn assert_maintenance_page(response: &str, context: &str) {
    assert!(
        response.starts_with("HTTP/1.1 503"),
        "{context}: not a 503:\n{response}"
    );
    let lower = response.to_ascii_lowercase();
    assert!(
        lower.contains("\r\nretry-after: 120\r\n"),
        "{context}: no Retry-After:\n{response}"
    );
    assert!(
        response.contains("The demo platform is being updated"),
        "{context}: not the configured page:\n{response}"
    );
    assert!(
        response.contains("href=\"data:text/css;base64,")
            && response.contains("src=\"data:image/svg+xml;base64,"),
        "{context}: the page's assets are not inlined:\n{response}"
    );
}

#[test]
fn builtin_maintenance_answers_503_while_the_web_service_is_stopped() {
    let (_dir, demo, bundle) = setup(3);
    let listen = format!("listen = \"127.0.0.1:{}\"", demo.web_port);
    edit_profile(
        &demo,
        &[
            ("mode = \"flag-file\"", "mode = \"builtin\""),
            (
                "flag_file = \"maintenance/maintenance.flag\"",
                listen.as_str(),
            ),
            ("allow = [\"127.0.0.1\"]\n", ""),
        ],
    );
    let services = demo.start_services().unwrap();
    assert!(http_get(web_addr(&demo), "/_health").ends_with("ok 1.0.0\n"));
    std::fs::write(demo.cache_dir.join("stale.html"), "old").unwrap();

    let clock = Instant::now();
    let paused = PausedApply::start(&bundle, &demo, "migrate");
    let reached = clock.elapsed();
    let page = http_get(web_addr(&demo), "/site-0001/home");
    assert_maintenance_page(&page, "builtin, during the run");
    assert!(
        std::fs::read_dir(&demo.cache_dir).unwrap().next().is_none(),
        "the cache is purged after the code switch"
    );
    let out = paused.resume();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        http_get(web_addr(&demo), "/_health")
            .split("\r\n\r\n")
            .nth(1),
        Some("ok 2.0.0\n"),
        "the web service runs the new code"
    );
    eprintln!("maintenance window reached after {reached:?} (guard … purge-caches)");
    services.stop().unwrap();
}

/// A throwaway nginx in front of the demo app, with the shipped maintenance snippet.
struct Nginx {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
}

/// A private CA's certificate, and a certificate for 127.0.0.1 it signed with its key (PEM files).
struct TlsFiles {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl TlsFiles {
    fn generate(dir: &Path) -> TlsFiles {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        let ca_key = KeyPair::generate().unwrap();
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        let files = TlsFiles {
            ca: dir.join("web-ca.pem"),
            cert: dir.join("web-cert.pem"),
            key: dir.join("web-key.pem"),
        };
        std::fs::write(&files.ca, ca.pem()).unwrap();
        std::fs::write(&files.cert, cert.pem()).unwrap();
        std::fs::write(&files.key, key.serialize_pem()).unwrap();
        files
    }
}

impl Nginx {
    fn start(demo: &DemoHost) -> Nginx {
        Nginx::start_with(demo, None)
    }

    /// Serving https:// with `tls`'s certificate when given.
    fn start_with(demo: &DemoHost, tls: Option<&TlsFiles>) -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let snippet =
            bascule_tests::workspace().join("patch-template/maintenance/nginx-maintenance.conf");
        let stem = demo.maintenance_flag.with_extension("");
        let listen = match tls {
            None => format!("listen 127.0.0.1:{port};"),
            Some(tls) => format!(
                "listen 127.0.0.1:{port} ssl;\n    ssl_certificate {};\n    ssl_certificate_key {};",
                tls.cert.display(),
                tls.key.display()
            ),
        };
        let p = dir.path().display();
        let conf = format!(
            "worker_processes 1;\n{user}error_log {p}/error.log;\npid {p}/nginx.pid;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log {p}/access.log;\n\
               client_body_temp_path {p}/body; proxy_temp_path {p}/proxy; fastcgi_temp_path {p}/fastcgi;\n\
               uwsgi_temp_path {p}/uwsgi; scgi_temp_path {p}/scgi;\n\
               server {{\n    {listen}\n\
                 set $bascule_maintenance {stem};\n    include {snippet};\n\
                 location / {{ proxy_pass http://127.0.0.1:{app}; }}\n  }}\n}}\n",
            user = if rustix_is_root() { "user root;\n" } else { "" },
            stem = stem.display(),
            snippet = snippet.display(),
            app = demo.web_port,
        );
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new(nginx_binary())
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf_path)
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx did not start: {}",
                std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Nginx { child, addr, dir }
    }
}

impl Drop for Nginx {
    /// SIGTERM, nginx's fast shutdown: the master takes its workers down with it (a SIGKILL
    /// would leave them running).
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn nginx_binary() -> PathBuf {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .expect("nginx is not installed: run scripts/setup.sh")
}

fn rustix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .is_some_and(|l| l.split_whitespace().nth(2) == Some("0"))
}

#[test]
fn flag_file_maintenance_through_a_real_nginx_passes_the_allowlist_through() {
    let (_dir, demo, bundle) = setup(3);
    let services = demo.start_services().unwrap();
    let nginx = Nginx::start(&demo);
    let before = http_get_from([127, 0, 0, 2], nginx.addr, "/site-0001/home");
    assert!(before.starts_with("HTTP/1.1 200"), "{before}");

    // Paused with the app stopped: nginx alone answers, with the page Bascule wrote.
    let paused = PausedApply::start(&bundle, &demo, "stop-services");
    for source in [[127, 0, 0, 2], [127, 0, 0, 3]] {
        let page = http_get_from(source, nginx.addr, "/site-0001/home");
        assert_maintenance_page(&page, "nginx, app stopped");
    }
    let out = paused.resume();
    assert!(out.status.success(), "{}", text(&out));
    let after = http_get_from([127, 0, 0, 2], nginx.addr, "/_health");
    assert!(
        after.ends_with("ok 2.0.0\n"),
        "open again, new code: {after}"
    );
    assert!(!demo.maintenance_flag.exists());
    services.stop().unwrap();
    drop(nginx);
}

#[test]
fn during_the_checks_only_allowlisted_clients_reach_the_new_code_through_nginx() {
    let (_dir, demo, bundle) = setup(3);
    let services = demo.start_services().unwrap();
    let nginx = Nginx::start(&demo);

    // Paused with the new code started, maintenance still on for the public.
    let paused = PausedApply::start(&bundle, &demo, "start-services");
    let team = http_get_from([127, 0, 0, 1], nginx.addr, "/_health");
    assert!(
        team.starts_with("HTTP/1.1 200") && team.ends_with("ok 2.0.0\n"),
        "127.0.0.1 is allowlisted: it reaches the new code: {team}"
    );
    let public = http_get_from([127, 0, 0, 2], nginx.addr, "/_health");
    assert_maintenance_page(&public, "nginx, public client during the checks");
    let out = paused.resume();
    assert!(out.status.success(), "{}", text(&out));
    services.stop().unwrap();
}

#[test]
fn smoke_tests_and_samples_go_over_https_trusting_the_profile_ca_file() {
    let (dir, demo, bundle) = setup(3);
    let tls = TlsFiles::generate(dir.path());
    let services = demo.start_services().unwrap();
    let nginx = Nginx::start_with(&demo, Some(&tls));
    let (http, https) = (demo.base_url(), format!("https://{}", nginx.addr));
    let base_url = |url: &str| format!("base_url = \"{url}\"");
    let site_url = |url: &str| format!("site_url = \"{url}/{{site}}/\"");
    edit_profile(
        &demo,
        &[
            (&base_url(&http), &base_url(&https)),
            (&site_url(&http), &site_url(&https)),
        ],
    );
    let mut profile = std::fs::OpenOptions::new()
        .append(true)
        .open(&demo.host_profile)
        .unwrap();
    writeln!(profile, "\n[https]\nca_file = \"{}\"", tls.ca.display()).unwrap();

    let out = bascule(&bundle, &demo, &["apply"], &[("BASCULE_TODAY", "tue")]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("smoke `health`: ok"), "{}", text(&out));
    let access = std::fs::read_to_string(nginx.dir.path().join("access.log")).unwrap();
    let asked = |path: &str| {
        access
            .lines()
            .filter(|l| l.contains(&format!("GET {path} ")) && l.contains("bascule/"))
            .count()
    };
    assert_eq!(
        asked("/_health"),
        1,
        "the health smoke test, over TLS:\n{access}"
    );
    let home = format!("/{}/home", demo.sites[0]);
    assert!(
        asked(&home) >= 2,
        "a sampled page before and after, and its smoke test, over TLS:\n{access}"
    );
    services.stop().unwrap();
}

/// Applies with a service defect: the run must fail with `expect` and leave the host as it was,
/// the web service running the old code. Returns the time it took and the running services.
fn failing_run_rolls_back(
    demo: &DemoHost,
    bundle: &Path,
    expect: &str,
) -> (Duration, RunningServices) {
    let services = demo.start_services().unwrap();
    let before = HostState::capture(demo).unwrap();
    assert_eq!(before.web, "ok 1.0.0");
    let clock = Instant::now();
    let out = bascule(bundle, demo, &["apply"], &[("BASCULE_TODAY", "tue")]);
    let took = clock.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(expect),
        "{}",
        text(&out)
    );
    HostState::capture(demo)
        .unwrap()
        .assert_same(&before, "after the rollback");
    (took, services)
}

#[test]
fn a_service_that_refuses_to_stop_rolls_everything_back() {
    let (_dir, demo, bundle) = setup(3);
    edit_profile(
        &demo,
        &[
            ("stop = \"kill $(cat run/web.pid)\"", "stop = \"true\""),
            ("stop_timeout = 15", "stop_timeout = 1"),
        ],
    );
    let (_, services) = failing_run_rolls_back(
        &demo,
        &bundle,
        "service `web`: still not stopped after 1 s (stop_timeout)",
    );
    // Its guard would fail to stop it the same way: stop it with the real stop line.
    std::mem::forget(services);
    edit_profile(
        &demo,
        &[("stop = \"true\"", "stop = \"kill $(cat run/web.pid)\"")],
    );
    demo.start_services().unwrap().stop().unwrap();
}

#[test]
fn a_service_that_fails_to_start_on_the_new_code_rolls_everything_back() {
    let (_dir, demo, bundle) = setup(3);
    edit_profile(
        &demo,
        &[(
            "start = \"'",
            "start = \"test \\\"$(readlink platform/current)\\\" = releases/1.0.0 || { echo refusing the new code; exit 1; }; '",
        )],
    );
    let (took, services) = failing_run_rolls_back(&demo, &bundle, "refusing the new code");
    eprintln!("failed start and complete rollback in {took:?}");
    services.stop().unwrap();
}
