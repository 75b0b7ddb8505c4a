//! AUTH, MQTT 5 only (v5 section 3.15).

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::fixed_header::PacketType;
use crate::properties::{AuthProperties, Properties};
use crate::reason::ReasonCode;
use crate::version::ProtocolVersion;

use super::{check_reason_code, read_reason_code, reason_and_properties_len, Body};

/// An AUTH packet of the enhanced authentication exchange. The reason code and the
/// properties are left out when they are Success and empty (v5 3.15.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Auth {
    /// Success, Continue authentication or Re-authenticate.
    pub reason_code: ReasonCode,
    /// Properties: authentication method and data.
    pub properties: Properties<AuthProperties>,
}

impl Auth {
    pub(super) fn read(body: &mut Bytes) -> Result<Self, DecodeError> {
        let mut auth = Self::default();
        if !body.is_empty() {
            auth.reason_code = read_reason_code(body, PacketType::Auth)?;
            if !body.is_empty() {
                auth.properties = Properties::<AuthProperties>::read_in(ProtocolVersion::V5, body)?;
            }
        }
        auth.check_method()
            .map_err(|_| DecodeError::MissingAuthenticationMethod)?;
        Ok(auth)
    }

    /// An AUTH names its Authentication Method (v5 section 3.15.2.2.2); only the bare
    /// Success form, without properties (v5 section 3.15.2.1), may leave it out.
    fn check_method(&self) -> Result<(), EncodeError> {
        let bare_success = self.reason_code == ReasonCode::Success && self.properties.is_empty();
        if !bare_success && self.properties.authentication_method.is_none() {
            return Err(EncodeError::MissingAuthenticationMethod);
        }
        Ok(())
    }
}

impl Body for Auth {
    fn remaining_len(&self, _: ProtocolVersion) -> usize {
        reason_and_properties_len(
            true,
            self.reason_code,
            self.properties.is_empty(),
            self.properties.encoded_len_in(ProtocolVersion::V5),
        )
    }

    /// AUTH exists only in MQTT 5.
    fn check(&self, version: ProtocolVersion, _: PacketType) -> Result<(), EncodeError> {
        if !version.is_v5() {
            return Err(EncodeError::NotInVersion(PacketType::Auth));
        }
        check_reason_code(self.reason_code, PacketType::Auth)?;
        self.check_method()?;
        self.properties.check_in(ProtocolVersion::V5)
    }

    fn write(&self, _: ProtocolVersion, buf: &mut BytesMut) {
        let len = self.remaining_len(ProtocolVersion::V5);
        if len > 0 {
            buf.put_u8(self.reason_code.as_u8());
        }
        if len > 1 {
            self.properties.write_in(ProtocolVersion::V5, buf);
        }
    }
}
