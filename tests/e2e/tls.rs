//! TLS certificate verification is always on. A site behind a certificate the system does not
//! trust fails with the reason named, the credential reads `unreachable` (not revoked), and no
//! request, so no credential, gets through. The only way to make such a site work is to trust
//! its issuer the way the README documents (the system store, or `SSL_CERT_FILE`); no
//! configuration key turns verification off.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::harness::*;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// A TLS front on loopback for a plain HTTP backend, with a certificate for `localhost` and
/// `127.0.0.1` that nobody trusts yet. It counts handshakes that failed and connections it
/// forwarded: a forwarded connection is the only way a byte of a request reaches the backend.
struct TlsFront {
    addr: SocketAddr,
    cert_pem: String,
    refused: Arc<AtomicUsize>,
    forwarded: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl TlsFront {
    async fn start(backend: SocketAddr) -> TlsFront {
        let key = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
            .unwrap();
        let cert_pem = key.cert.pem();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(key.cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.signing_key.serialize_der())),
        )
        .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let refused = Arc::new(AtomicUsize::new(0));
        let forwarded = Arc::new(AtomicUsize::new(0));
        let (r, f) = (refused.clone(), forwarded.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let (acceptor, r, f) = (acceptor.clone(), r.clone(), f.clone());
                tokio::spawn(async move {
                    match acceptor.accept(tcp).await {
                        Ok(mut tls) => {
                            f.fetch_add(1, Ordering::SeqCst);
                            let mut up = TcpStream::connect(backend).await.unwrap();
                            let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
                        }
                        Err(_) => {
                            r.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                });
            }
        });
        TlsFront {
            addr,
            cert_pem,
            refused,
            forwarded,
            task,
        }
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The demo's configuration with every URL (sites, gateway, auth server) on `https://` at
/// `host:port`.
fn https_config(dir: &Path, host_port: &str) {
    copy_config(&repo_config(), dir, host_port);
    for f in ["jira-sync.toml", "sites.d/acme.toml", "sites.d/globex.toml"] {
        let p = dir.join(f);
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains(&format!("http://{host_port}")), "{f}");
        std::fs::write(
            &p,
            text.replace(
                &format!("http://{host_port}"),
                &format!("https://{host_port}"),
            ),
        )
        .unwrap();
    }
}

fn sync_acme(dir: &Path, env: &[(&str, &str)]) -> std::process::Output {
    std::process::Command::new(binary())
        .args(["sync", "--config", dir.to_str().unwrap(), "acme/sec"])
        .env_remove("JIRA_SYNC__LISTEN")
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_stops_every_request_and_says_why() {
    let (sim, _) = demo_sized(Some((3, 3))).await;
    let front = TlsFront::start(sim.addr()).await;
    let dir = tempfile::tempdir().unwrap();
    let host_port = format!("localhost:{}", front.addr.port());
    https_config(dir.path(), &host_port);
    sim.control().reset_counters();

    // One cycle by hand: it fails, names the certificate, and nothing got through the TLS
    // handshake, so no Authorization header left the process.
    let out = sync_acme(dir.path(), &[]);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("certificate"), "the reason is named: {said}");
    assert_no_secrets(&said);
    assert!(front.refused.load(Ordering::SeqCst) >= 1);
    assert_eq!(front.forwarded.load(Ordering::SeqCst), 0);
    assert_eq!(requests(&sim, None), 0);

    // The daemon: the credential reads unreachable (a network fault the operator fixes), not
    // revoked (which would send them to rotate a token that is fine), with the reason.
    schedule_all(dir.path(), NEVER);
    let daemon = Daemon::start(dir.path());
    let metrics = daemon
        .until("acme's credential to read unreachable", |m| {
            value(
                m,
                "jira_sync_credential_state",
                &[("site", "acme"), ("state", "unreachable")],
            ) == Some(1.0)
        })
        .await;
    assert_eq!(
        value(&metrics, "jira_sync_credential_up", &[("site", "acme")]),
        Some(0.0)
    );
    let (_, status) = daemon.get("/status").await;
    assert!(status.contains("certificate"), "{status}");
    assert_no_secrets(&status);
    drop(daemon);
    assert_eq!(front.forwarded.load(Ordering::SeqCst), 0);
    assert_eq!(requests(&sim, None), 0);

    // Trusting the issuer, as the README says (here SSL_CERT_FILE instead of the system
    // store), is what makes the same configuration work.
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &front.cert_pem).unwrap();
    let out = sync_acme(dir.path(), &[("SSL_CERT_FILE", ca.to_str().unwrap())]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(front.forwarded.load(Ordering::SeqCst) >= 1);
    assert!(requests(&sim, None) > 0);
}

#[test]
fn no_configuration_key_turns_verification_off() {
    let dir = tempfile::tempdir().unwrap();
    copy_config(&repo_config(), dir.path(), "127.0.0.1:9");
    for key in [
        "danger_accept_invalid_certs = true",
        "tls_verify = false",
        "insecure = true",
    ] {
        let p = dir.path().join("sites.d/acme.toml");
        let original = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, format!("{key}\n{original}")).unwrap();
        let out = jira_sync(&["check", "--config", dir.path().to_str().unwrap()]);
        let said = text(&out);
        assert!(!out.status.success(), "`{key}` was accepted: {said}");
        assert!(said.contains(key.split(' ').next().unwrap()), "{said}");
        std::fs::write(&p, original).unwrap();
    }
}
