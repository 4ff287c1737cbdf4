//! The signature a receiver checks: HMAC-SHA256 with the webhook's secret
//! over `<timestamp>.<body>`. The timestamp is signed with the body so that
//! a captured delivery cannot be replayed later under a fresh timestamp.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The `X-Techlead-Signature` value: `sha256=<hex>`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mac = mac(secret, timestamp, body).finalize().into_bytes();
    let mut text = String::with_capacity(7 + 64);
    text.push_str("sha256=");
    for byte in mac {
        text.push(hex(byte >> 4));
        text.push(hex(byte & 0xf));
    }
    text
}

/// Whether `header` is the signature of `body` at `timestamp`, compared in
/// constant time (what a receiver written in Rust does).
pub fn verify(secret: &[u8], timestamp: i64, body: &[u8], header: &str) -> bool {
    let Some(bytes) = header.strip_prefix("sha256=").and_then(unhex) else {
        return false;
    };
    mac(secret, timestamp, body).verify_slice(&bytes).is_ok()
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length.
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

fn hex(nibble: u8) -> char {
    char::from(b"0123456789abcdef"[usize::from(nibble)])
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        // Test case 2: key "Jefe"; the message split where `mac` splits it.
        let mut mac = HmacSha256::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        let bytes = mac.finalize().into_bytes();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, expected);
    }

    #[test]
    fn the_signature_covers_timestamp_and_body() {
        // Python: hmac.new(b"s3cret", b'1767268800.{"event":"gate_failed"}', sha256)
        let body = br#"{"event":"gate_failed"}"#;
        let signed = signature(b"s3cret", 1_767_268_800, body);
        assert_eq!(
            signed,
            "sha256=447fc024926e3cfa92e87dc362a7dd372d5af1cd6956cf11b5747ca642e279ab"
        );
        assert!(verify(b"s3cret", 1_767_268_800, body, &signed));
        assert!(!verify(b"s3cret", 1_767_268_801, body, &signed));
        assert!(!verify(b"other", 1_767_268_800, body, &signed));
        assert!(!verify(b"s3cret", 1_767_268_800, b"{}", &signed));
        assert!(!verify(b"s3cret", 1_767_268_800, body, "sha256=zz"));
        assert!(!verify(b"s3cret", 1_767_268_800, body, &signed[7..]));
    }
}
