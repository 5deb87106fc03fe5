//! A minimal DER reader and writer: just what the secrets bundle needs.
//!
//! The bundle has to move private keys between Go's encodings (SEC1
//! `EC PRIVATE KEY`, PKCS#1 `RSA PRIVATE KEY`, PKCS#8 v1 Ed25519) and the
//! PKCS#8 documents `ring` (through rcgen) reads and writes, and it has to
//! build and inspect X.509 certificates field by field so they come out the
//! way Go's `crypto/x509` writes them. All of those are a handful of
//! definite-length TLVs with single-byte tags, so a small reader/writer is
//! enough and keeps the crate off another ASN.1 dependency.

use std::fmt;

/// Universal tags used by the bundle's structures.
pub(crate) mod tag {
    pub const BOOLEAN: u8 = 0x01;
    pub const INTEGER: u8 = 0x02;
    pub const BIT_STRING: u8 = 0x03;
    pub const OCTET_STRING: u8 = 0x04;
    pub const NULL: u8 = 0x05;
    pub const OID: u8 = 0x06;
    pub const UTF8_STRING: u8 = 0x0c;
    pub const PRINTABLE_STRING: u8 = 0x13;
    pub const T61_STRING: u8 = 0x14;
    pub const IA5_STRING: u8 = 0x16;
    pub const UTC_TIME: u8 = 0x17;
    pub const GENERALIZED_TIME: u8 = 0x18;
    pub const BMP_STRING: u8 = 0x1e;
    pub const SEQUENCE: u8 = 0x30;
    pub const SET: u8 = 0x31;

    /// `[n]` constructed, context-specific (EXPLICIT tagging).
    pub const fn context(n: u8) -> u8 {
        0xa0 | n
    }

    /// `[n]` primitive, context-specific (IMPLICIT tagging of a primitive).
    pub const fn context_primitive(n: u8) -> u8 {
        0x80 | n
    }
}

/// Malformed DER. It never carries the bytes themselves, only what was
/// expected, so it is safe to show for private-key input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DerError(pub &'static str);

impl fmt::Display for DerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// One element: its tag, its content and its whole encoding.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    pub tag: u8,
    pub value: &'a [u8],
    pub raw: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// The elements inside a constructed value.
    pub fn reader(&self) -> Reader<'a> {
        Reader::new(self.value)
    }
}

/// Reads consecutive elements from a byte slice.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The next element's tag, without consuming it.
    pub fn peek_tag(&self) -> Option<u8> {
        self.data.first().copied()
    }

    /// Reads the next element, whatever its tag.
    pub fn read(&mut self) -> Result<Tlv<'a>, DerError> {
        let data = self.data;
        let &tag = data.first().ok_or(DerError("unexpected end of data"))?;
        if tag & 0x1f == 0x1f {
            return Err(DerError("multi-byte tags are not supported"));
        }
        let &first = data.get(1).ok_or(DerError("truncated length"))?;
        let (len, header) = if first < 0x80 {
            (first as usize, 2)
        } else {
            let n = (first & 0x7f) as usize;
            if n == 0 {
                return Err(DerError("indefinite lengths are not DER"));
            }
            if n > 4 {
                return Err(DerError("length too large"));
            }
            let bytes = data.get(2..2 + n).ok_or(DerError("truncated length"))?;
            if bytes[0] == 0 {
                return Err(DerError("non-minimal length"));
            }
            let len = bytes.iter().fold(0usize, |acc, &b| (acc << 8) | b as usize);
            if len < 0x80 {
                return Err(DerError("non-minimal length"));
            }
            (len, 2 + n)
        };
        let end = header
            .checked_add(len)
            .filter(|&end| end <= data.len())
            .ok_or(DerError("element longer than its container"))?;
        self.data = &data[end..];
        Ok(Tlv {
            tag,
            value: &data[header..end],
            raw: &data[..end],
        })
    }

    /// Reads the next element and checks its tag.
    pub fn expect(&mut self, tag: u8, what: &'static str) -> Result<Tlv<'a>, DerError> {
        let tlv = self.read().map_err(|_| DerError(what))?;
        if tlv.tag != tag {
            return Err(DerError(what));
        }
        Ok(tlv)
    }

    /// Reads the next element if it has this tag.
    pub fn optional(&mut self, tag: u8) -> Result<Option<Tlv<'a>>, DerError> {
        if self.peek_tag() == Some(tag) {
            self.read().map(Some)
        } else {
            Ok(None)
        }
    }

    /// Checks that nothing follows.
    pub fn finish(&self, what: &'static str) -> Result<(), DerError> {
        if self.data.is_empty() {
            Ok(())
        } else {
            Err(DerError(what))
        }
    }
}

/// Reads exactly one element that spans all of `data`.
pub(crate) fn parse_single<'a>(
    data: &'a [u8],
    tag: u8,
    what: &'static str,
) -> Result<Tlv<'a>, DerError> {
    let mut reader = Reader::new(data);
    let tlv = reader.expect(tag, what)?;
    reader.finish(what)?;
    Ok(tlv)
}

/// The content of a BIT STRING with no unused bits (keys and signatures).
pub(crate) fn bit_string_bytes<'a>(tlv: &Tlv<'a>) -> Result<&'a [u8], DerError> {
    match tlv.value.split_first() {
        Some((0, rest)) => Ok(rest),
        _ => Err(DerError("bit string with unused bits")),
    }
}

/// The value of a small non-negative INTEGER (versions).
pub(crate) fn small_uint(tlv: &Tlv<'_>) -> Result<u64, DerError> {
    if tlv.tag != tag::INTEGER || tlv.value.is_empty() || tlv.value.len() > 8 {
        return Err(DerError("expected a small integer"));
    }
    if tlv.value[0] & 0x80 != 0 {
        return Err(DerError("expected a non-negative integer"));
    }
    Ok(tlv.value.iter().fold(0u64, |acc, &b| (acc << 8) | b as u64))
}

/// Encodes one element.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u32).to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (4 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// Encodes a constructed element from already-encoded parts.
pub(crate) fn constructed(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    tlv(tag, &parts.concat())
}

/// `SEQUENCE { parts }`.
pub(crate) fn sequence(parts: &[&[u8]]) -> Vec<u8> {
    constructed(tag::SEQUENCE, parts)
}

/// A non-negative INTEGER from big-endian magnitude bytes (minimal encoding).
pub(crate) fn uint(magnitude: &[u8]) -> Vec<u8> {
    let skip = magnitude.iter().take_while(|&&b| b == 0).count();
    let trimmed = &magnitude[skip..];
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|&b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(trimmed);
    tlv(tag::INTEGER, &content)
}

/// A BIT STRING with no unused bits.
pub(crate) fn bit_string(bytes: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(bytes.len() + 1);
    content.push(0);
    content.extend_from_slice(bytes);
    tlv(tag::BIT_STRING, &content)
}

/// An OBJECT IDENTIFIER from its encoded content bytes.
pub(crate) fn oid(content: &[u8]) -> Vec<u8> {
    tlv(tag::OID, content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip() {
        for len in [0usize, 1, 127, 128, 255, 256, 4096, 70000] {
            let content = vec![7u8; len];
            let encoded = tlv(tag::OCTET_STRING, &content);
            let parsed = parse_single(&encoded, tag::OCTET_STRING, "x").unwrap();
            assert_eq!(parsed.value, &content[..]);
            assert_eq!(parsed.raw, &encoded[..]);
        }
    }

    #[test]
    fn rejects_non_minimal_and_truncated() {
        assert!(Reader::new(&[0x04, 0x81, 0x05, 1, 2, 3, 4, 5])
            .read()
            .is_err());
        assert!(Reader::new(&[0x04, 0x05, 1, 2]).read().is_err());
        assert!(Reader::new(&[0x04, 0x80]).read().is_err());
    }

    #[test]
    fn integers_are_minimal_and_positive() {
        assert_eq!(uint(&[0, 0, 0x7f]), vec![0x02, 0x01, 0x7f]);
        assert_eq!(uint(&[0x80]), vec![0x02, 0x02, 0x00, 0x80]);
        assert_eq!(uint(&[]), vec![0x02, 0x01, 0x00]);
    }
}
