//! Authentication and authorisation: the policy the adapter plugs in.
//!
//! The broker asks an [`Authenticator`] once per CONNECT and before every PUBLISH and
//! SUBSCRIBE. The calls are synchronous and must be quick (look-ups in memory, such as a
//! password file loaded at start); the default, [`AllowAll`], admits everyone.

use bytes::Bytes;
use mqtt_codec::{ProtocolVersion, ReasonCode};
use mqtt_topic::{TopicFilter, TopicName};

/// Who is connecting: what the CONNECT packet says.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Credentials<'a> {
    /// The client identifier (after assignment, when the client sent an empty one).
    pub client_id: &'a str,
    /// The user name, if any.
    pub username: Option<&'a str>,
    /// The password, if any.
    pub password: Option<&'a Bytes>,
    /// The protocol version the client speaks.
    pub protocol_version: ProtocolVersion,
}

/// A connected client, as authorisation decisions see it.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ClientInfo<'a> {
    /// The client identifier.
    pub client_id: &'a str,
    /// The user name it authenticated with, if any.
    pub username: Option<&'a str>,
}

/// Why a CONNECT is refused. Each maps to the CONNACK code of both versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// Wrong user name or password: CONNACK 0x86 (v5) / 4 (3.1.1).
    BadUserNameOrPassword,
    /// Not allowed to connect: CONNACK 0x87 (v5) / 5 (3.1.1).
    NotAuthorized,
    /// Banned: CONNACK 0x8A (v5) / 5 (3.1.1).
    Banned,
}

impl AuthError {
    /// The MQTT 5 reason code; [`ReasonCode::connack_return_code_v3`] maps it for 3.1.1.
    pub const fn reason_code(self) -> ReasonCode {
        match self {
            Self::BadUserNameOrPassword => ReasonCode::BadUserNameOrPassword,
            Self::NotAuthorized => ReasonCode::NotAuthorized,
            Self::Banned => ReasonCode::Banned,
        }
    }
}

/// The adapter's policy: who may connect, publish where and subscribe to what.
pub trait Authenticator: Send {
    /// Decides a CONNECT.
    fn authenticate(&mut self, credentials: &Credentials<'_>) -> Result<(), AuthError>;

    /// Whether `client` may publish to `topic` (also asked for its will, when it is sent).
    fn authorize_publish(&mut self, client: &ClientInfo<'_>, topic: &TopicName) -> bool;

    /// Whether `client` may subscribe to `filter` (the filter of a shared subscription,
    /// without its `$share/{name}/` prefix).
    fn authorize_subscribe(&mut self, client: &ClientInfo<'_>, filter: &TopicFilter) -> bool;
}

/// Admits every client and allows every publish and subscription.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl Authenticator for AllowAll {
    fn authenticate(&mut self, _: &Credentials<'_>) -> Result<(), AuthError> {
        Ok(())
    }

    fn authorize_publish(&mut self, _: &ClientInfo<'_>, _: &TopicName) -> bool {
        true
    }

    fn authorize_subscribe(&mut self, _: &ClientInfo<'_>, _: &TopicFilter) -> bool {
        true
    }
}
