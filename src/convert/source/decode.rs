//! Bytes of a configuration file to text.

/// The text of a file. A byte that is not UTF-8 inside a comment (a name in Latin-1 after
/// `#`) is replaced, since keepalived never reads comments; anywhere else it is refused, at
/// the byte offset returned.
pub(super) fn decode(bytes: Vec<u8>) -> Result<String, usize> {
    let bytes = match String::from_utf8(bytes) {
        Ok(text) => return Ok(text),
        Err(e) => e.into_bytes(),
    };
    let mut out = String::with_capacity(bytes.len());
    let mut offset = 0;
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        match std::str::from_utf8(line) {
            Ok(text) => out.push_str(text),
            Err(e) => {
                let bad = e.valid_up_to();
                let comment = line[..bad].iter().position(|&b| b == b'#' || b == b'!');
                if comment.is_none() {
                    return Err(offset + bad);
                }
                out.push_str(&String::from_utf8_lossy(line));
            }
        }
        offset += line.len();
    }
    Ok(out)
}
