//! Endpoint URLs: `http://HOST:PORT` or `https://HOST:PORT`.

use hyper::Uri;
use tokio_rustls::rustls::pki_types::ServerName;

/// One etcd client URL.
pub(super) struct Endpoint {
    pub(super) url: String,
    pub(super) host: String,
    pub(super) port: u16,
    /// The TLS server name to verify, for `https` endpoints.
    pub(super) tls_name: Option<ServerName<'static>>,
}

/// Parses `http://HOST:PORT` or `https://HOST:PORT` (a trailing `/` is allowed).
pub(super) fn parse_endpoint(url: &str) -> Result<Endpoint, String> {
    let bad = |why: &str| format!("etcd endpoint `{url}`: {why}");
    let uri: Uri = url.parse().map_err(|e| bad(&format!("{e}")))?;
    let https = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => return Err(bad("the scheme must be http:// or https://")),
    };
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err(bad("only scheme, host and port are allowed, no path"));
    }
    let host = uri.host().ok_or_else(|| bad("no host"))?;
    let port = uri
        .port_u16()
        .ok_or_else(|| bad("no port (etcd's is usually 2379)"))?;
    // An IPv6 literal comes bracketed in a URL, neither in a socket address nor a TLS name.
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let tls_name = if https {
        Some(ServerName::try_from(host.clone()).map_err(|e| bad(&format!("TLS name: {e}")))?)
    } else {
        None
    };
    Ok(Endpoint {
        url: url.to_string(),
        host,
        port,
        tls_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_and_bad_ones_are_named() {
        let e = parse_endpoint("http://10.0.0.1:2379").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.tls_name.is_none()),
            ("10.0.0.1", 2379, true)
        );
        let e = parse_endpoint("https://[fd00::1]:2379/").unwrap();
        assert_eq!(e.host, "fd00::1");
        assert!(e.tls_name.is_some());
        for (url, why) in [
            ("10.0.0.1:2379", "scheme"),
            ("ftp://10.0.0.1:2379", "scheme"),
            ("http://10.0.0.1", "no port"),
            ("http://10.0.0.1:2379/v3", "no path"),
        ] {
            let err = parse_endpoint(url).err().unwrap();
            assert!(err.contains(url) && err.contains(why), "{url}: {err}");
        }
    }
}
