//! Where `crosscast serve` and `crosscast emit` find Redis: the flags both commands share
//! (`--redis-url`, `--redis-cluster`, `--redis-ca`) and the driver configuration they make.
//!
//! The rule, one for both commands:
//! - one `--redis-url` (or `REDIS_URL`): a standalone Redis;
//! - `--redis-url` given more than once, or `--redis-cluster URL,URL,...` (or
//!   `CROSSCAST_REDIS_CLUSTER`, comma-separated; also repeatable): the seed nodes of a Redis
//!   Cluster, one or more; the other nodes are discovered from them;
//! - `--redis-url` (or `REDIS_URL`) together with `--redis-cluster` is an error: say it one
//!   way;
//! - `--redis-ca FILE` (or `CROSSCAST_REDIS_CA`): PEM certificate(s) trusted for `rediss://`
//!   instead of the platform's roots, for every node; it needs a `rediss://` URL.
//!
//! A bad value is refused while the command line is parsed (exit status 2), with an error
//! that names the flag and its variable and never shows the URL (it may hold a password).

use std::ffi::OsStr;
use std::path::PathBuf;

use clap::builder::TypedValueParser;
use clap::error::ErrorKind;
use clap::{Arg, Args, Command};
use redis::IntoConnectionInfo as _;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

use crate::driver::{DriverConfig, PubSubKind};

/// The Redis flags of `serve` and `emit` (help heading "Redis").
#[derive(Clone, Debug, Default, Args)]
pub struct RedisArgs {
    /// Redis of the cluster (redis://host:port or redis://user:password@host:port;
    /// rediss:// for TLS). Once: a standalone Redis. Repeated: the seed nodes of a Redis Cluster, as --redis-cluster. For
    /// `serve`, without any Redis the server is a single node on the in-memory adapter.
    #[arg(
        long = "redis-url",
        env = "REDIS_URL",
        value_name = "URL",
        value_parser = RedisUrlParser,
        hide_env_values = true,
        help_heading = "Redis"
    )]
    pub redis_url: Vec<String>,
    /// A Redis Cluster: one or more seed nodes (comma-separated or repeated); the other
    /// nodes are discovered. Classic and sharded adapters both work on a cluster. Not
    /// together with --redis-url (nor REDIS_URL).
    #[arg(
        long = "redis-cluster",
        env = "CROSSCAST_REDIS_CLUSTER",
        value_name = "URL,URL,...",
        value_parser = RedisUrlParser,
        value_delimiter = ',',
        hide_env_values = true,
        help_heading = "Redis"
    )]
    pub redis_cluster: Vec<String>,
    /// PEM file of the CA certificate(s) that signed the Redis server's certificate, for
    /// rediss:// with a private CA (trusted instead of the platform's roots, on every node).
    #[arg(
        long = "redis-ca",
        env = "CROSSCAST_REDIS_CA",
        value_name = "FILE",
        value_parser = CaParser,
        hide_env_values = true,
        help_heading = "Redis"
    )]
    pub redis_ca: Option<CaFile>,
}

/// A `--redis-ca` file, read and checked while the command line is parsed.
#[derive(Clone, PartialEq, Eq)]
pub struct CaFile {
    /// The path as given.
    pub path: PathBuf,
    /// The file's bytes: one or more PEM certificates.
    pub pem: Vec<u8>,
}

impl std::fmt::Debug for CaFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaFile")
            .field("path", &self.path)
            .field("pem_bytes", &self.pem.len())
            .finish()
    }
}

impl RedisArgs {
    /// The seed URLs: the cluster's, else the `--redis-url`s.
    fn seeds(&self) -> &[String] {
        if self.redis_cluster.is_empty() {
            &self.redis_url
        } else {
            &self.redis_cluster
        }
    }

    /// Whether any Redis is configured.
    pub fn is_configured(&self) -> bool {
        !self.seeds().is_empty()
    }

    /// Whether the Redis is a Redis Cluster (`--redis-cluster`, or `--redis-url` repeated).
    pub fn is_cluster(&self) -> bool {
        !self.redis_cluster.is_empty() || self.redis_url.len() > 1
    }

    /// Checks what one flag alone cannot: every URL of a cluster has the same scheme, and
    /// `--redis-ca` goes with `rediss://`. A failure is a one-line message naming the flag.
    pub fn check(&self) -> Result<(), String> {
        if !self.redis_url.is_empty() && !self.redis_cluster.is_empty() {
            return Err(
                "--redis-cluster (CROSSCAST_REDIS_CLUSTER) and --redis-url (REDIS_URL) are both \
                 set: give the Redis one way (a repeated --redis-url is a cluster too)"
                    .into(),
            );
        }
        let seeds = self.seeds();
        let tls = seeds.iter().filter(|u| is_tls(u)).count();
        if tls != 0 && tls != seeds.len() {
            return Err(format!(
                "{}: the Redis URLs mix redis:// and rediss://; every node of a cluster speaks the same",
                self.seed_flag()
            ));
        }
        if self.redis_ca.is_some() {
            if seeds.is_empty() {
                return Err(
                    "--redis-ca (CROSSCAST_REDIS_CA) needs a Redis: --redis-url or --redis-cluster"
                        .into(),
                );
            }
            if tls == 0 {
                return Err(format!(
                    "--redis-ca (CROSSCAST_REDIS_CA) is for rediss:// (TLS), but {} is redis://",
                    self.seed_flag()
                ));
            }
        }
        Ok(())
    }

    /// The flag the seeds came from, for messages.
    fn seed_flag(&self) -> &'static str {
        if self.redis_cluster.is_empty() {
            "--redis-url"
        } else {
            "--redis-cluster"
        }
    }

    /// The driver configuration of `kind` for these flags; `None` without Redis.
    pub fn driver_config(&self, kind: PubSubKind) -> Option<DriverConfig> {
        let (first, rest) = self.seeds().split_first()?;
        let mut config = DriverConfig::new(first.clone());
        config.kind = kind;
        if self.is_cluster() {
            config.cluster_nodes = Some(rest.to_vec());
        }
        config.tls_root_cert_pem = self.redis_ca.as_ref().map(|ca| ca.pem.clone());
        Some(config)
    }

    /// `message` (a failure to connect) with a hint when it is about the server's
    /// certificate: which CA it was checked against, and `--redis-ca` when none was given.
    pub fn explain(&self, message: String) -> String {
        let tls = self.seeds().iter().any(|u| is_tls(u));
        if !tls || !message.contains("certificate") {
            return message;
        }
        match &self.redis_ca {
            None => format!(
                "{message} (the Redis server's certificate is not signed by a CA this machine \
                 trusts; for a private CA, pass it with --redis-ca FILE)"
            ),
            Some(ca) => format!(
                "{message} (checked against the CA of --redis-ca {})",
                ca.path.display()
            ),
        }
    }
}

fn is_tls(url: &str) -> bool {
    url.get(..9)
        .is_some_and(|s| s.eq_ignore_ascii_case("rediss://"))
}

/// `--flag (VARIABLE)` of `arg`, for messages.
fn describe(arg: Option<&Arg>) -> String {
    let Some(arg) = arg else {
        return "the value".into();
    };
    let flag = arg
        .get_long()
        .map(|l| format!("--{l}"))
        .unwrap_or_else(|| arg.get_id().to_string());
    match arg.get_env().and_then(OsStr::to_str) {
        Some(var) => format!("{flag} ({var})"),
        None => flag,
    }
}

fn invalid(cmd: &Command, message: String) -> clap::Error {
    clap::Error::raw(ErrorKind::ValueValidation, format!("{message}\n")).with_cmd(cmd)
}

/// Checks one Redis URL; the error never contains the URL (it may hold a password).
#[derive(Clone, Copy, Debug)]
struct RedisUrlParser;

impl TypedValueParser for RedisUrlParser {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &Command,
        arg: Option<&Arg>,
        value: &OsStr,
    ) -> Result<String, clap::Error> {
        let name = describe(arg);
        let reason = match value.to_str() {
            None => Some("it is not UTF-8".to_owned()),
            Some("") => Some("an empty URL".to_owned()),
            Some(url) => check_url(url).err(),
        };
        match reason {
            Some(reason) => Err(invalid(
                cmd,
                format!(
                    "invalid value for {name}: {reason} (expected redis://[user:password@]host:port \
                     or rediss://...; the value is not shown, it may hold a password)"
                ),
            )),
            None => Ok(value.to_str().unwrap_or_default().to_owned()),
        }
    }
}

fn check_url(url: &str) -> Result<(), String> {
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    if !matches!(scheme.as_deref(), Some("redis" | "rediss")) {
        return Err("not a redis:// or rediss:// URL".into());
    }
    url.into_connection_info().map(|_| ()).map_err(|e| {
        // "<description> - <kind>": the description says what is wrong.
        let text = e.to_string();
        let what = text.split(" - ").next().unwrap_or("bad URL").to_owned();
        format!("not a Redis URL ({what})")
    })
}

/// Reads and checks a `--redis-ca` file: readable, with at least one PEM certificate.
#[derive(Clone, Copy, Debug)]
struct CaParser;

impl TypedValueParser for CaParser {
    type Value = CaFile;

    fn parse_ref(
        &self,
        cmd: &Command,
        arg: Option<&Arg>,
        value: &OsStr,
    ) -> Result<CaFile, clap::Error> {
        read_ca(value).map_err(|reason| {
            invalid(
                cmd,
                format!("invalid value for {}: {reason}", describe(arg)),
            )
        })
    }
}

fn read_ca(value: &OsStr) -> Result<CaFile, String> {
    if value.is_empty() {
        return Err("an empty path".into());
    }
    let path = PathBuf::from(value);
    let shown = path.display();
    let pem = std::fs::read(&path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{shown} is not a PEM file: {e}"))?;
    if certificates.is_empty() {
        return Err(format!(
            "{shown} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        ));
    }
    Ok(CaFile { path, pem })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(urls: &[&str], cluster: &[&str]) -> RedisArgs {
        RedisArgs {
            redis_url: urls.iter().map(|s| (*s).to_owned()).collect(),
            redis_cluster: cluster.iter().map(|s| (*s).to_owned()).collect(),
            redis_ca: None,
        }
    }

    #[test]
    fn one_url_is_standalone_more_are_cluster_seeds() {
        let none = args(&[], &[]);
        assert!(!none.is_configured());
        assert!(none.driver_config(PubSubKind::Classic).is_none());

        let one = args(&["redis://a:1"], &[]).driver_config(PubSubKind::Sharded);
        let one = one.expect("a Redis");
        assert_eq!(one.url, "redis://a:1");
        assert_eq!(one.cluster_nodes, None);
        assert_eq!(one.kind, PubSubKind::Sharded);

        let repeated = args(&["redis://a:1", "redis://b:2"], &[]);
        assert!(repeated.is_cluster());
        let config = repeated
            .driver_config(PubSubKind::Classic)
            .expect("a Redis");
        assert_eq!(config.url, "redis://a:1");
        assert_eq!(config.cluster_nodes, Some(vec!["redis://b:2".to_owned()]));

        // One seed is enough for a cluster.
        let single_seed = args(&[], &["redis://c:3"]).driver_config(PubSubKind::Classic);
        assert_eq!(single_seed.expect("a Redis").cluster_nodes, Some(vec![]));
    }

    #[test]
    fn the_ca_goes_with_rediss_and_schemes_do_not_mix() {
        let ca = CaFile {
            path: "ca.pem".into(),
            pem: b"pem".to_vec(),
        };
        let mut plain = args(&["redis://a:1"], &[]);
        assert_eq!(plain.check(), Ok(()));
        plain.redis_ca = Some(ca.clone());
        assert!(plain.check().expect_err("an error").contains("--redis-ca"));

        let mut tls = args(&[], &["rediss://a:1", "rediss://b:2"]);
        tls.redis_ca = Some(ca.clone());
        assert_eq!(tls.check(), Ok(()));
        let config = tls.driver_config(PubSubKind::Classic).expect("a Redis");
        assert_eq!(config.tls_root_cert_pem, Some(b"pem".to_vec()));

        let both = args(&["redis://a:1"], &["redis://b:2"]);
        assert!(both.check().expect_err("an error").contains("one way"));

        let mixed = args(&[], &["rediss://a:1", "redis://b:2"]);
        assert!(mixed.check().expect_err("an error").contains("mix"));

        let mut nothing = args(&[], &[]);
        nothing.redis_ca = Some(ca);
        assert!(
            nothing
                .check()
                .expect_err("an error")
                .contains("needs a Redis")
        );
    }

    #[test]
    fn urls_are_checked_without_showing_them() {
        assert_eq!(check_url("redis://127.0.0.1:6380"), Ok(()));
        assert_eq!(check_url("rediss://user:pw@localhost:6380/2"), Ok(()));
        for bad in [
            "http://127.0.0.1:1",
            "nonsense",
            "127.0.0.1:6379",
            "redis://:pw@",
        ] {
            let err = check_url(bad).expect_err(bad);
            assert!(
                !err.contains("pw") && !err.contains("127.0.0.1"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn a_certificate_error_without_a_ca_gets_a_hint() {
        let tls = args(&["rediss://a:1"], &[]);
        let hinted = tls.explain("invalid peer certificate: UnknownIssuer".into());
        assert!(hinted.contains("--redis-ca FILE"), "{hinted}");
        let other = tls.explain("connection refused".into());
        assert_eq!(other, "connection refused");
        let mut with_ca = tls.clone();
        with_ca.redis_ca = Some(CaFile {
            path: "/etc/ca.pem".into(),
            pem: Vec::new(),
        });
        let named = with_ca.explain("invalid peer certificate: UnknownIssuer".into());
        assert!(named.contains("--redis-ca /etc/ca.pem"), "{named}");
        let plain = args(&["redis://a:1"], &[]);
        assert_eq!(plain.explain("certificate".into()), "certificate");
    }
}
