//! Variable byte integers: the remaining length, property lengths and identifiers
//! (v5 section 1.5.5, 3.1.1 section 2.2.3).

use bytes::{Buf, BufMut};

use crate::error::DecodeError;

/// The largest value a variable byte integer can hold (four bytes of seven bits).
pub const MAX_VARIABLE_BYTE_INTEGER: u32 = 268_435_455;

/// Outcome of reading a variable byte integer from the front of a slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VarInt {
    /// The value, how many bytes encoded it, and whether that was the minimal encoding.
    Complete {
        value: u32,
        len: usize,
        minimal: bool,
    },
    /// The slice ends inside the integer.
    Incomplete,
}

/// Reads a variable byte integer from the front of `bytes` without consuming it.
/// A fifth continuation byte is an error [MQTT-1.5.5-1].
pub(crate) fn peek(bytes: &[u8]) -> Result<VarInt, DecodeError> {
    let mut value: u32 = 0;
    for (i, byte) in bytes.iter().take(4).enumerate() {
        value |= u32::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            // A trailing zero group (0x80 0x00, ...) means a shorter encoding existed.
            let minimal = i == 0 || *byte != 0;
            return Ok(VarInt::Complete {
                value,
                len: i + 1,
                minimal,
            });
        }
    }
    if bytes.len() >= 4 {
        Err(DecodeError::VariableByteIntegerTooLong)
    } else {
        Ok(VarInt::Incomplete)
    }
}

/// Reads and consumes a minimally encoded variable byte integer inside a packet body
/// (MQTT 5 property lengths, identifiers and subscription identifiers).
pub(crate) fn read(buf: &mut impl Buf, truncated: DecodeError) -> Result<u32, DecodeError> {
    match peek(buf.chunk())? {
        VarInt::Complete {
            value,
            len,
            minimal,
        } => {
            if !minimal {
                return Err(DecodeError::NonMinimalVariableByteInteger);
            }
            buf.advance(len);
            Ok(value)
        }
        VarInt::Incomplete => Err(truncated),
    }
}

/// Number of bytes the minimal encoding of `value` takes.
pub(crate) const fn len(value: usize) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// Writes the minimal encoding of `value`, which must be at most
/// [`MAX_VARIABLE_BYTE_INTEGER`] (callers check).
pub(crate) fn write(buf: &mut impl BufMut, mut value: usize) {
    debug_assert!(value <= MAX_VARIABLE_BYTE_INTEGER as usize);
    loop {
        let mut byte = (value & 0x7F) as u8;
        value >>= 7;
        if value > 0 {
            byte |= 0x80;
        }
        buf.put_u8(byte);
        if value == 0 {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn encode(value: usize) -> Vec<u8> {
        let mut out = Vec::new();
        write(&mut out, value);
        out
    }

    // Boundary values of the table in v5 section 1.5.5 / 3.1.1 section 2.2.3.
    #[test]
    fn spec_table_boundaries_round_trip() {
        for (value, bytes) in [
            (0usize, &[0x00][..]),
            (127, &[0x7F]),
            (128, &[0x80, 0x01]),
            (16_383, &[0xFF, 0x7F]),
            (16_384, &[0x80, 0x80, 0x01]),
            (2_097_151, &[0xFF, 0xFF, 0x7F]),
            (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
            (268_435_455, &[0xFF, 0xFF, 0xFF, 0x7F]),
        ] {
            assert_eq!(encode(value), bytes, "encoding {value}");
            assert_eq!(len(value), bytes.len());
            assert_eq!(
                peek(bytes),
                Ok(VarInt::Complete {
                    value: value as u32,
                    len: bytes.len(),
                    minimal: true
                })
            );
        }
    }

    #[test]
    fn mqtt_1_5_5_1_fifth_byte_is_malformed() {
        assert_eq!(
            peek(&[0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
            Err(DecodeError::VariableByteIntegerTooLong)
        );
        assert_eq!(
            peek(&[0x80, 0x80, 0x80, 0x80]),
            Err(DecodeError::VariableByteIntegerTooLong)
        );
    }

    #[test]
    fn mqtt_1_5_5_1_non_minimal_is_flagged() {
        assert_eq!(
            peek(&[0x80, 0x00]),
            Ok(VarInt::Complete {
                value: 0,
                len: 2,
                minimal: false
            })
        );
        let mut body: &[u8] = &[0x81, 0x80, 0x00];
        assert_eq!(
            read(&mut body, DecodeError::Truncated),
            Err(DecodeError::NonMinimalVariableByteInteger)
        );
    }

    #[test]
    fn incomplete_is_not_an_error() {
        assert_eq!(peek(&[]), Ok(VarInt::Incomplete));
        assert_eq!(peek(&[0x80, 0x80, 0x80]), Ok(VarInt::Incomplete));
    }
}
