//! Deadlines, in an ordered set with at most one entry per connection and per session: an
//! entry is checked against its owner's current deadline when it comes due and armed again
//! if the deadline moved (a keep alive refreshed by traffic), so traffic never touches the
//! set; an owner that goes removes its entry.

use std::time::Instant;

use crate::broker::{Broker, ConnectionState};
use crate::event::{CloseReason, ConnectionHandle};
use crate::session::SessionId;

/// What a deadline is for. Serial numbers tell a live owner from a later one in the same
/// slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Timer {
    /// CONNECT timeout, then keep alive.
    Connection(ConnectionHandle, u64),
    /// Session expiry and will delay.
    Session(SessionId, u64),
    /// The next `$SYS` publication.
    Sys,
}

impl Broker {
    /// The earliest deadline at which [`Broker::handle_timeout`] has work, if any.
    ///
    /// After `handle_timeout(now)`, this is always later than `now`, so an adapter that
    /// sleeps until it never spins.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|&(at, _)| at)
    }

    /// Time has passed: closes connections that sent nothing for 1.5 times their keep alive
    /// [MQTT-3.1.2-24], ends expired sessions, publishes delayed wills and `$SYS` topics.
    /// Calling it before the deadline does nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(at, timer)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            match timer {
                Timer::Connection(handle, serial) => {
                    self.connection_timer(now, handle, serial, at);
                }
                Timer::Session(id, serial) => self.session_timer(now, id, serial, at),
                Timer::Sys => self.sys_timer(now),
            }
        }
    }

    fn connection_timer(
        &mut self,
        now: Instant,
        handle: ConnectionHandle,
        serial: u64,
        at: Instant,
    ) {
        let Some(conn) = self.connection_mut(handle) else {
            return;
        };
        if conn.serial != serial || conn.timer_at != Some(at) {
            return;
        }
        conn.timer_at = None;
        let (deadline, reason) = match conn.state {
            ConnectionState::AwaitingConnect => (
                conn.opened_at + self.config.connect_timeout,
                CloseReason::ConnectTimeout,
            ),
            ConnectionState::Connected => match conn.keep_alive_limit {
                Some(limit) => (conn.last_packet + limit, CloseReason::KeepAliveTimeout),
                None => return,
            },
            ConnectionState::Closing => return,
        };
        if deadline > now {
            self.arm_connection_timer(handle, deadline);
            return;
        }
        // v5: DISCONNECT 0x8D before closing [MQTT-3.1.2-22 context].
        let disconnect = (reason == CloseReason::KeepAliveTimeout)
            .then_some(mqtt_codec::ReasonCode::KeepAliveTimeout);
        self.close(now, handle, reason, disconnect);
    }

    /// Makes sure the connection's timer fires by `at`. A connection keeps one entry in the
    /// heap; traffic only moves `last_packet`, and the entry re-arms itself when it fires.
    pub(crate) fn arm_connection_timer(&mut self, handle: ConnectionHandle, at: Instant) {
        let Some(conn) = self.connection_mut(handle) else {
            return;
        };
        if conn.timer_at.is_some_and(|armed| armed <= at) {
            return;
        }
        let serial = conn.serial;
        if let Some(old) = conn.timer_at.replace(at) {
            self.timers
                .remove(&(old, Timer::Connection(handle, serial)));
        }
        self.timers.insert((at, Timer::Connection(handle, serial)));
    }

    /// Makes sure the session's timer fires by `at`. A session keeps one entry in the heap:
    /// a later deadline waits for the entry already armed, which re-arms when it fires.
    pub(crate) fn arm_session_timer(&mut self, id: SessionId, at: Instant) {
        let Some(session) = self.session_mut(id) else {
            return;
        };
        if session.timer_armed.is_some_and(|armed| armed <= at) {
            return;
        }
        let serial = session.serial;
        if let Some(old) = session.timer_armed.replace(at) {
            self.timers.remove(&(old, Timer::Session(id, serial)));
        }
        self.timers.insert((at, Timer::Session(id, serial)));
    }

    fn session_timer(&mut self, now: Instant, id: SessionId, serial: u64, at: Instant) {
        let Some(session) = self.session_mut(id) else {
            return;
        };
        if session.serial != serial || session.timer_armed != Some(at) {
            return;
        }
        session.timer_armed = None;
        let will_due = session.pending_will.as_ref().is_some_and(|w| w.at <= now);
        let expired =
            session.connection.is_none() && session.expires_at.is_some_and(|at| at <= now);
        if expired {
            // The will goes when the session ends, if its delay has not run out first
            // [MQTT-3.1.3-9].
            self.end_session(now, id);
            return;
        }
        if will_due {
            self.publish_pending_will(now, id);
        }
        self.rearm_session_timer(id);
    }

    /// Arms the session's timer for its next deadline: a pending will or, while offline,
    /// its expiry.
    pub(crate) fn rearm_session_timer(&mut self, id: SessionId) {
        let Some(session) = self.session(id) else {
            return;
        };
        let will = session.pending_will.as_ref().map(|w| w.at);
        let expiry = session
            .connection
            .is_none()
            .then_some(session.expires_at)
            .flatten();
        let next = match (will, expiry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(at) = next {
            self.arm_session_timer(id, at);
        }
    }
}
