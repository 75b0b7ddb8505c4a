//! UTF-8 encoded strings as MQTT defines them: validated once, sliced from the input, never
//! copied (v5 section 1.5.4, 3.1.1 section 1.5.3).

use alloc::string::String;
use core::borrow::Borrow;
use core::fmt;
use core::ops::Deref;

use bytes::{BufMut, Bytes};
use bytestring::ByteString;

use crate::error::DecodeError;
use crate::wire;

/// A UTF-8 encoded string as MQTT allows it: well-formed UTF-8 without surrogates
/// [MQTT-1.5.4-1], no U+0000 [MQTT-1.5.4-2], at most 65,535 bytes. A byte order mark is kept,
/// not stripped [MQTT-1.5.4-3].
///
/// Cloning and slicing share the underlying [`Bytes`]; decoding borrows the packet buffer.
///
/// ```
/// use mqtt_codec::MqttString;
/// use bytes::Bytes;
///
/// let topic = MqttString::try_from(Bytes::from_static(b"home/hall/light")).unwrap();
/// assert_eq!(topic, "home/hall/light");
/// // U+0000 is refused [MQTT-1.5.4-2]; so is ill-formed UTF-8 [MQTT-1.5.4-1].
/// assert!(MqttString::try_from(Bytes::from_static(b"a\0b")).is_err());
/// assert!(MqttString::try_from(Bytes::from_static(b"\xED\xA0\x80")).is_err());
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MqttString(ByteString);

/// Why bytes are not an MQTT UTF-8 string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidString {
    /// Ill-formed UTF-8, including encoded surrogates [MQTT-1.5.4-1].
    #[error("not well-formed UTF-8")]
    Utf8,
    /// Contains U+0000 [MQTT-1.5.4-2].
    #[error("contains U+0000")]
    NullCharacter,
    /// Longer than 65,535 bytes.
    #[error("longer than 65,535 bytes")]
    TooLong,
}

impl From<InvalidString> for DecodeError {
    fn from(err: InvalidString) -> Self {
        match err {
            InvalidString::Utf8 => Self::InvalidUtf8,
            InvalidString::NullCharacter => Self::NullCharacter,
            // A two-byte length prefix cannot announce more.
            InvalidString::TooLong => Self::Truncated,
        }
    }
}

impl MqttString {
    /// The empty string.
    pub const fn new() -> Self {
        Self(ByteString::from_static(""))
    }

    /// A string from a `'static` literal, without copying.
    ///
    /// # Panics
    /// If `s` contains U+0000 or is longer than 65,535 bytes: a programming error in a
    /// literal, never reachable from network input.
    pub const fn from_static(s: &'static str) -> Self {
        assert!(
            s.len() <= u16::MAX as usize,
            "MQTT strings are at most 65,535 bytes"
        );
        let bytes = s.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            assert!(bytes[i] != 0, "MQTT strings must not contain U+0000");
            i += 1;
        }
        Self(ByteString::from_static(s))
    }

    /// The string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The UTF-8 bytes, shared with the buffer the string was decoded from.
    pub fn as_bytes(&self) -> &Bytes {
        self.0.as_bytes()
    }

    /// The underlying bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0.into_bytes()
    }

    /// A sub-string sharing the same buffer.
    ///
    /// Returns `None` when `range` is out of bounds or not on character boundaries.
    pub fn slice(&self, range: core::ops::Range<usize>) -> Option<Self> {
        self.as_str().get(range.clone())?;
        Some(Self(self.0.slice_ref(&self.as_str()[range])))
    }

    /// Validates `bytes` as an MQTT string without copying.
    fn validate(bytes: Bytes) -> Result<Self, InvalidString> {
        if bytes.len() > usize::from(u16::MAX) {
            return Err(InvalidString::TooLong);
        }
        // U+0000 is the only character whose UTF-8 form contains a zero byte.
        if bytes.contains(&0) {
            return Err(InvalidString::NullCharacter);
        }
        ByteString::try_from(bytes)
            .map(Self)
            .map_err(|_| InvalidString::Utf8)
    }

    /// Reads a length-prefixed string from a packet body, sliced from it.
    pub(crate) fn read(buf: &mut Bytes) -> Result<Self, DecodeError> {
        Ok(Self::validate(wire::read_binary(buf)?)?)
    }

    /// Reads a topic name (PUBLISH topic, will topic, Response Topic): a string without the
    /// wildcards `+` and `#` [MQTT-3.3.2-2], [MQTT-3.3.2-14]. U+0000 and the wildcards are
    /// found in one pass over the bytes: this is the hot path of every PUBLISH.
    #[inline]
    pub(crate) fn read_topic_name(buf: &mut Bytes) -> Result<Self, DecodeError> {
        let bytes = wire::read_binary(buf)?;
        if let Some(byte) = find_nul_or_wildcard(&bytes) {
            return Err(if byte == 0 {
                DecodeError::NullCharacter
            } else {
                DecodeError::WildcardInTopicName
            });
        }
        ByteString::try_from(bytes)
            .map(Self)
            .map_err(|_| DecodeError::InvalidUtf8)
    }

    /// Whether the string contains a wildcard character `+` or `#`, which topic names must
    /// not [MQTT-3.3.2-2].
    pub fn has_wildcard(&self) -> bool {
        // An MqttString holds no U+0000, so any byte found is a wildcard.
        find_nul_or_wildcard(self.as_bytes()).is_some()
    }

    /// Bytes on the wire: the two-byte length and the string.
    pub(crate) fn encoded_len(&self) -> usize {
        2 + self.0.len()
    }

    /// Writes the two-byte length and the string; the length always fits.
    pub(crate) fn write(&self, buf: &mut impl BufMut) {
        wire::write_binary(buf, self.0.as_bytes());
    }
}

/// The first byte of `bytes` that is 0x00, `+` or `#`.
///
/// The common case, a valid topic, is a branch-free test of 16-byte blocks that the compiler
/// turns into vector instructions; only a topic that fails it is searched for the culprit.
#[inline]
fn find_nul_or_wildcard(bytes: &[u8]) -> Option<u8> {
    let mut blocks = bytes.chunks_exact(16);
    let found = blocks.any(|block| block.iter().fold(0, |acc, &b| acc | forbidden(b)) != 0)
        || blocks.remainder().iter().any(|&b| forbidden(b) != 0);
    if !found {
        return None;
    }
    bytes.iter().copied().find(|&b| forbidden(b) != 0)
}

/// 1 for 0x00, `+` and `#`, else 0. `+` (0x2B) and `#` (0x23) differ only in bit 3: setting
/// it maps both, and nothing else, to 0x2B.
#[inline(always)]
fn forbidden(b: u8) -> u8 {
    u8::from(b == 0) | u8::from(b | 0x08 == b'+')
}

impl TryFrom<Bytes> for MqttString {
    type Error = InvalidString;
    fn try_from(bytes: Bytes) -> Result<Self, InvalidString> {
        Self::validate(bytes)
    }
}

impl TryFrom<&str> for MqttString {
    type Error = InvalidString;
    /// Copies `s` into a new buffer.
    fn try_from(s: &str) -> Result<Self, InvalidString> {
        Self::validate(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl TryFrom<String> for MqttString {
    type Error = InvalidString;
    fn try_from(s: String) -> Result<Self, InvalidString> {
        Self::validate(Bytes::from(s))
    }
}

impl Deref for MqttString {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for MqttString {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for MqttString {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for MqttString {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for MqttString {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for MqttString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for MqttString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &'static [u8]) -> Result<MqttString, DecodeError> {
        MqttString::read(&mut Bytes::from_static(bytes))
    }

    #[test]
    fn mqtt_1_5_4_1_ill_formed_utf8_rejected() {
        assert_eq!(read(b"\x00\x02\xC3\x28"), Err(DecodeError::InvalidUtf8));
        // Overlong encoding of '/'.
        assert_eq!(read(b"\x00\x02\xC0\xAF"), Err(DecodeError::InvalidUtf8));
    }

    #[test]
    fn mqtt_1_5_4_1_surrogates_rejected() {
        // U+D800 encoded as UTF-8.
        assert_eq!(read(b"\x00\x03\xED\xA0\x80"), Err(DecodeError::InvalidUtf8));
        assert_eq!(read(b"\x00\x03\xED\xBF\xBF"), Err(DecodeError::InvalidUtf8));
    }

    #[test]
    fn mqtt_1_5_4_2_null_character_rejected() {
        assert_eq!(read(b"\x00\x03a\x00b"), Err(DecodeError::NullCharacter));
    }

    #[test]
    fn mqtt_1_5_4_3_bom_is_not_stripped() {
        let s = read(b"\x00\x04\xEF\xBB\xBFA").unwrap();
        assert_eq!(s.as_str(), "\u{FEFF}A");
    }

    // The example of v5 section 1.5.4 (3.1.1 section 1.5.3): "A\u{2A6D4}".
    #[test]
    fn spec_example_string() {
        let s = read(b"\x00\x05\x41\xF0\xAA\x9B\x94").unwrap();
        assert_eq!(s.as_str(), "A\u{2A6D4}");
    }

    #[test]
    fn length_past_end_is_truncated() {
        assert_eq!(read(b"\x00\x05abc"), Err(DecodeError::Truncated));
        assert_eq!(read(b"\x00"), Err(DecodeError::Truncated));
    }

    #[test]
    fn mqtt_3_3_2_2_topic_name_scan_finds_every_forbidden_byte_at_every_position() {
        for len in 1..40 {
            for pos in 0..len {
                for (byte, expected) in [
                    (0u8, DecodeError::NullCharacter),
                    (b'+', DecodeError::WildcardInTopicName),
                    (b'#', DecodeError::WildcardInTopicName),
                ] {
                    let mut wire = alloc::vec![0, len as u8];
                    wire.extend(core::iter::repeat_n(b'a', len));
                    wire[2 + pos] = byte;
                    let got = MqttString::read_topic_name(&mut Bytes::from(wire));
                    assert_eq!(got, Err(expected), "len {len} pos {pos} byte {byte}");
                }
            }
            let mut wire = alloc::vec![0, len as u8];
            wire.extend(core::iter::repeat_n(b'/', len));
            assert!(MqttString::read_topic_name(&mut Bytes::from(wire)).is_ok());
        }
    }

    #[test]
    fn too_long_refused_on_construction() {
        let long = alloc::vec![b'a'; 65_536];
        assert_eq!(
            MqttString::try_from(Bytes::from(long)),
            Err(InvalidString::TooLong)
        );
    }

    #[test]
    fn decoded_string_shares_the_input() {
        let input = Bytes::from_static(b"\x00\x03abcrest");
        let mut buf = input.clone();
        let s = MqttString::read(&mut buf).unwrap();
        assert_eq!(s.as_bytes().as_ptr(), input[2..].as_ptr());
    }
}
