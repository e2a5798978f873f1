//! Seeded identifiers.
//!
//! Every identifier a workspace hands out comes from its own ChaCha8 stream,
//! seeded from the workspace seed, so the same fixtures, seed and request
//! sequence give the same ids on every run and every machine.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use super::time::Millis;

const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A seeded generator of prefixed, ULID-shaped ids and of GUIDs.
#[derive(Debug, Clone)]
pub struct IdGen {
    rng: ChaCha8Rng,
}

impl IdGen {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// `prefix` + 26 lowercase Crockford base32 characters: 48 bits of the
    /// virtual time (so ids sort by creation) and 80 seeded random bits.
    pub fn prefixed(&mut self, prefix: &str, now: Millis) -> String {
        let mut out = String::with_capacity(prefix.len() + 26);
        out.push_str(prefix);
        let time = u128::from(now.max(0) as u64 & 0xFFFF_FFFF_FFFF);
        let random =
            (u128::from(self.rng.next_u64()) << 16) | u128::from(self.rng.next_u32() & 0xFFFF);
        let value = (time << 80) | random;
        // Written as bytes first: one copy instead of 26 checked pushes.
        let mut chars = [0u8; 26];
        for (n, c) in chars.iter_mut().enumerate() {
            *c = CROCKFORD[((value >> ((25 - n) * 5)) & 0x1F) as usize];
        }
        out.push_str(std::str::from_utf8(&chars).unwrap_or_default());
        out
    }

    /// A random (version 4 shaped) GUID, lowercase and hyphenated.
    pub fn guid(&mut self) -> String {
        let mut bytes = [0u8; 16];
        self.rng.fill_bytes(&mut bytes);
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .hyphenated()
            .to_string()
    }

    /// `len` lowercase Crockford characters of pure randomness (for secrets).
    pub fn token(&mut self, len: usize) -> String {
        self.secret("", len)
    }

    /// `prefix` + [`IdGen::token`]`(len)`, in one allocation (API keys).
    pub fn secret(&mut self, prefix: &str, len: usize) -> String {
        let mut out = String::with_capacity(prefix.len() + len);
        out.push_str(prefix);
        out.extend((0..len).map(|_| char::from(CROCKFORD[(self.rng.next_u32() & 0x1F) as usize])));
        out
    }
}

/// Encodes bytes as lowercase Crockford base32 (used for opaque cursors).
pub(crate) fn crockford_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(CROCKFORD[((buffer >> bits) & 0x1F) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(
            CROCKFORD[((buffer << (5 - bits)) & 0x1F) as usize],
        ));
    }
    out
}

/// The inverse of [`crockford_encode`]; `None` on any character outside the alphabet.
pub(crate) fn crockford_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for c in text.bytes() {
        let value = CROCKFORD.iter().position(|&x| x == c)? as u32;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xFF) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_ids() {
        let mut a = IdGen::new(7);
        let mut b = IdGen::new(7);
        for _ in 0..5 {
            assert_eq!(
                a.prefixed("doc_", 1_700_000_000_000),
                b.prefixed("doc_", 1_700_000_000_000)
            );
            assert_eq!(a.guid(), b.guid());
        }
        assert_ne!(
            IdGen::new(8).prefixed("doc_", 0),
            IdGen::new(7).prefixed("doc_", 0)
        );
    }

    #[test]
    fn prefixed_ids_have_the_documented_shape() {
        let id = IdGen::new(1).prefixed("doc_", 1_774_319_797_684);
        assert_eq!(id.len(), 30);
        assert!(id[4..].bytes().all(|c| CROCKFORD.contains(&c)));
    }

    /// The value of Crockford base32 text, most significant character first.
    fn value_of(text: &str) -> u128 {
        text.bytes().fold(0, |acc, c| {
            let digit = CROCKFORD.iter().position(|&x| x == c).expect("alphabet");
            (acc << 5) | digit as u128
        })
    }

    #[test]
    fn a_prefixed_id_is_the_time_then_the_seeded_stream() {
        let now = 1_774_319_797_684;
        let mut ids = IdGen::new(42);
        let mut stream = ChaCha8Rng::seed_from_u64(42);
        for _ in 0..3 {
            let id = ids.prefixed("att_", now);
            assert_eq!(&id[..4], "att_");
            // 10 characters hold the 48-bit time (its top 2 bits are zero),
            // 16 hold the 80 random bits: 64 from one draw, 16 from the next.
            assert_eq!(value_of(&id[4..14]), now as u128);
            let random =
                (u128::from(stream.next_u64()) << 16) | u128::from(stream.next_u32() & 0xFFFF);
            assert_eq!(value_of(&id[14..]), random);
        }
        // Only the low 48 bits of the time are kept; a negative time is zero.
        let wide = IdGen::new(1).prefixed("", (1 << 48) + 5);
        assert_eq!(value_of(&wide[..10]), 5);
        let negative = IdGen::new(1).prefixed("", -7);
        assert_eq!(&negative[..10], "0000000000");
        // Later instants sort after earlier ones.
        let mut ids = IdGen::new(3);
        assert!(ids.prefixed("doc_", 1_000) < ids.prefixed("doc_", 1_001));
    }

    #[test]
    fn guids_and_tokens_come_from_the_seeded_stream() {
        let mut ids = IdGen::new(9);
        let mut stream = ChaCha8Rng::seed_from_u64(9);
        let mut bytes = [0u8; 16];
        stream.fill_bytes(&mut bytes);
        let expected = uuid::Builder::from_random_bytes(bytes).into_uuid();
        let guid = ids.guid();
        assert_eq!(guid, expected.hyphenated().to_string());
        assert_eq!(guid.len(), 36);
        assert_eq!(&guid[14..15], "4", "version 4 shaped: {guid}");

        let token = ids.token(12);
        let expected: String = (0..12)
            .map(|_| char::from(CROCKFORD[(stream.next_u32() & 0x1F) as usize]))
            .collect();
        assert_eq!(token, expected);
        assert_eq!(ids.token(0), "");
    }

    #[test]
    fn crockford_matches_known_vectors() {
        // RFC 4648's base32 vectors for "f" .. "foobar", in Crockford's
        // lowercase alphabet and without padding.
        for (bytes, text) in [
            (&b""[..], ""),
            (b"f", "cr"),
            (b"fo", "csqg"),
            (b"foo", "csqpy"),
            (b"foob", "csqpyrg"),
            (b"fooba", "csqpyrk1"),
            (b"foobar", "csqpyrk1e8"),
            (&[0xFF][..], "zw"),
            (&[0x00, 0x01][..], "000g"),
        ] {
            assert_eq!(crockford_encode(bytes), text, "{bytes:?}");
            assert_eq!(crockford_decode(text).as_deref(), Some(bytes), "{text}");
        }
        assert_eq!(
            crockford_decode("csqpyrk1e8u"),
            None,
            "'u' is not in the alphabet"
        );
        assert_eq!(crockford_decode("CSQ"), None, "lowercase only");
    }

    #[test]
    fn crockford_round_trips() {
        let data = b"v1|dynamics365|1774319797684|4be38121";
        assert_eq!(crockford_decode(&crockford_encode(data)).unwrap(), data);
        assert!(crockford_decode("not-valid!").is_none());
    }
}
