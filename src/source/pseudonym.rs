//! Pseudonymized customer ids: with `--pseudonymize`, every customer id is
//! replaced as it is read by `p` and the first 16 hex digits of
//! HMAC-SHA256(key, id), so the raw ids reach no screen, export or state.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Turns customer ids into pseudonyms with one secret key.
#[derive(Clone)]
pub struct Pseudonymizer {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for Pseudonymizer {
    /// Never the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonymizer")
    }
}

impl Pseudonymizer {
    /// Pseudonyms keyed by `key` (any length).
    pub fn new(key: &[u8]) -> Self {
        Pseudonymizer {
            // HMAC takes keys of every length.
            mac: Hmac::<Sha256>::new_from_slice(key).unwrap_or_else(|_| unreachable!()),
        }
    }

    /// What tells this key from another without showing it: the pseudonym
    /// of a text no customer id is. A saved live state keeps it.
    pub fn fingerprint(&self) -> String {
        self.pseudonym("\u{0}journeyscope key fingerprint")
    }

    /// `id`'s pseudonym: `p` and 16 lowercase hex digits.
    pub fn pseudonym(&self, id: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(id.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut out = String::with_capacity(17);
        out.push('p');
        for byte in &digest[..8] {
            out.push_str(&format!("{byte:02x}"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231, test case 2: HMAC-SHA256("Jefe", "what do ya want for
    /// nothing?") starts 5bdcc146bf60754e.
    #[test]
    fn pseudonyms_are_the_start_of_hmac_sha256() {
        let p = Pseudonymizer::new(b"Jefe");
        assert_eq!(
            p.pseudonym("what do ya want for nothing?"),
            "p5bdcc146bf60754e"
        );
    }
}
