//! Test certificates made with the `openssl` CLI: a CA, one server certificate per etcd
//! member (its IP address as subject alternative name, which is what clients verify when
//! they connect to an IP), and a client certificate for etcd's `--client-cert-auth`.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use crate::cmd::run;
use crate::error::{HarnessError, Result};

/// The PEM files of a cluster with TLS.
#[derive(Debug, Clone)]
pub struct EtcdTls {
    /// The CA that signed every certificate below.
    pub ca: PathBuf,
    /// A client certificate the members accept.
    pub client_cert: PathBuf,
    /// Its key.
    pub client_key: PathBuf,
    dir: PathBuf,
}

/// A member's server certificate and key.
pub(super) struct ServerCert {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl EtcdTls {
    /// Makes the CA and the client certificate in `dir`.
    pub(super) fn new(dir: &Path) -> Result<EtcdTls> {
        std::fs::create_dir_all(dir).map_err(|e| HarnessError::io("mkdir tls", e))?;
        let ca = make_ca(dir, "ca")?;
        let (client_cert, client_key) = sign(dir, "client", &ca, "clientAuth", None)?;
        Ok(EtcdTls {
            ca,
            client_cert,
            client_key,
            dir: dir.to_path_buf(),
        })
    }

    /// A server certificate for a member at `ip`.
    pub(super) fn server(&self, name: &str, ip: Ipv4Addr) -> Result<ServerCert> {
        // clientAuth too: etcd's gateway connects to its own member's gRPC server presenting
        // the member's certificate, which `--client-cert-auth` checks like any client's.
        let (cert, key) = sign(&self.dir, name, &self.ca, "serverAuth,clientAuth", Some(ip))?;
        Ok(ServerCert { cert, key })
    }

    /// A CA that signed none of the cluster's certificates: a client trusting it must refuse
    /// the members.
    pub fn unrelated_ca(&self) -> Result<PathBuf> {
        make_ca(&self.dir, "other-ca")
    }
}

/// A self-signed CA; returns its certificate (the key is `NAME.key` next to it).
fn make_ca(dir: &Path, name: &str) -> Result<PathBuf> {
    let (crt, key) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    run(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN=vipd test {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout",
            path(&key),
            "-out",
            path(&crt),
        ],
    )?;
    Ok(crt)
}

/// A key and a certificate for `name` signed by the CA `ca`, for `usage` (serverAuth or
/// clientAuth), with `ip` as subject alternative name if given.
fn sign(
    dir: &Path,
    name: &str,
    ca: &Path,
    usage: &str,
    ip: Option<Ipv4Addr>,
) -> Result<(PathBuf, PathBuf)> {
    let (crt, key, csr, ext) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
        dir.join(format!("{name}.csr")),
        dir.join(format!("{name}.ext")),
    );
    run(
        "openssl",
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            path(&key),
            "-out",
            path(&csr),
        ],
    )?;
    let mut extensions = format!(
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
         extendedKeyUsage={usage}\n"
    );
    if let Some(ip) = ip {
        extensions += &format!("subjectAltName=IP:{ip}\n");
    }
    std::fs::write(&ext, extensions).map_err(|e| HarnessError::io("write ext file", e))?;
    let ca_key = ca.with_extension("key");
    run(
        "openssl",
        &[
            "x509",
            "-req",
            "-in",
            path(&csr),
            "-CA",
            path(ca),
            "-CAkey",
            path(&ca_key),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            path(&ext),
            "-out",
            path(&crt),
        ],
    )?;
    Ok((crt, key))
}

fn path(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}
