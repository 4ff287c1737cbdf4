//! Stable fingerprints: the same bytes give the same value on every
//! machine and every version (unlike `std`'s hasher), so they can be stored.

/// 64-bit FNV-1a of `bytes`.
pub fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// A file's fingerprint as 16 hex digits, to notice edits.
pub fn of_file(bytes: &[u8]) -> String {
    format!("{:016x}", fnv1a(bytes.iter().copied()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_values_never_change() {
        assert_eq!(super::of_file(b""), "cbf29ce484222325");
        assert_eq!(super::of_file(b"a"), "af63dc4c8601ec8c");
    }
}
