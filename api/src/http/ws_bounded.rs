//! The GraphQL WebSocket loop with connection bounds: a socket that sends no `connection_init` in time is
//! closed with 4408 (as graphql-ws does), and a subscribe past the per-connection cap gets an error for
//! its id instead of starting. Close codes are graphql-ws's: 4400 for a message that is not one, 4401
//! before the connection is acknowledged, 4401/4403 for a refused `connection_init` (as its check
//! decided), 4429 for a second `connection_init`.

use async_graphql::http::{WebSocketProtocols, WsMessage};
use async_graphql::Data;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::{future, SinkExt, StreamExt};
use std::collections::HashSet;
use std::future::Future;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::errors::Code;
use crate::graphql::schema::GreenroomSchema;

/// graphql-ws's close code for a socket that did not initialise in time.
pub const INIT_TIMEOUT_CODE: u16 = 4408;

/// graphql-ws's close code for a message that is not a valid protocol message.
pub const BAD_MESSAGE_CODE: u16 = 4400;
/// graphql-ws's close code for a request before the connection was acknowledged.
pub const UNAUTHORIZED_CODE: u16 = 4401;

/// The close code to send for one the protocol layer chose: its generic 1002 becomes the refusal that
/// `connection_init`'s check recorded (`refused`, 0 for none), else 4400; its 1011 ("handshake not
/// completed") becomes 4401; others (4429, ...) stay.
pub fn close_code(engine: u16, refused: u16) -> u16 {
    match engine {
        1002 if refused != 0 => refused,
        1002 => BAD_MESSAGE_CODE,
        1011 => UNAUTHORIZED_CODE,
        other => other,
    }
}

/// What one connection may do.
#[derive(Clone, Copy, Debug)]
pub struct WsBounds {
    /// How long a socket may stay open without `connection_init`.
    pub init_timeout: Duration,
    /// Most subscriptions running at once.
    pub max_subscriptions: usize,
    /// How often the connection's caller is checked again (token expiry, revocation).
    pub recheck_every: Duration,
    /// The close code when the check fails.
    pub forbidden_code: u16,
}

/// The check of a connection's caller: `Err(reason)` closes the socket.
pub type Recheck = futures_util::future::BoxFuture<'static, Result<(), &'static str>>;

/// The protocol the upgrade request asked for (the first supported one), default `graphql-transport-ws`.
pub fn protocol_of(headers: &axum::http::HeaderMap) -> WebSocketProtocols {
    headers
        .get(axum::http::header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',')
                .find_map(|p| WebSocketProtocols::from_str(p.trim()).ok())
        })
        .unwrap_or(WebSocketProtocols::GraphQLWS)
}

/// Client messages on their way in: notes `connection_init`, counts running subscriptions, and holds
/// back a subscribe past the cap (its error goes to `rejected`).
struct Admission {
    inited: Arc<AtomicBool>,
    running: Arc<Mutex<HashSet<String>>>,
    rejected: tokio::sync::mpsc::UnboundedSender<String>,
    max: usize,
    legacy: bool,
}

impl Admission {
    fn admit(&self, raw: Vec<u8>) -> Option<Vec<u8>> {
        let Ok(msg) = serde_json::from_slice::<serde_json::Value>(&raw) else {
            return Some(raw); // the protocol layer closes the socket with its own error
        };
        let id = msg.get("id").and_then(|v| v.as_str()).map(str::to_string);
        let Ok(mut running) = self.running.lock() else {
            return None;
        };
        match (msg.get("type").and_then(|v| v.as_str()), id) {
            (Some("connection_init"), _) => self.inited.store(true, Ordering::Relaxed),
            (Some("subscribe" | "start"), Some(id)) if !running.contains(&id) => {
                if running.len() >= self.max {
                    let _ = self.rejected.send(self.refusal(&id));
                    return None;
                }
                running.insert(id);
            }
            (Some("complete" | "stop"), Some(id)) => {
                running.remove(&id);
            }
            _ => {}
        }
        Some(raw)
    }

    fn refusal(&self, id: &str) -> String {
        let error = serde_json::json!({
            "message": format!("at most {} subscriptions may run at once on one connection", self.max),
            "extensions": { "code": Code::TooManySubscriptions.as_str() },
        });
        let payload = if self.legacy {
            error
        } else {
            serde_json::json!([error])
        };
        serde_json::json!({ "type": "error", "id": id, "payload": payload }).to_string()
    }
}

/// Forgets a subscription the server completed (its stream ended).
fn note_completion(text: &str, running: &Mutex<HashSet<String>>) {
    if !text.starts_with(r#"{"type":"complete""#) {
        return;
    }
    let id = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_string));
    if let (Some(id), Ok(mut r)) = (id, running.lock()) {
        r.remove(&id);
    }
}

/// Serves subscriptions on `socket` until either side closes, within `bounds`; `on_init` turns the
/// `connection_init` payload into the connection's data (or refuses it).
/// `refused` holds the close code `on_init` chose when it refused the connection.
/// `recheck` runs every `bounds.recheck_every` and before each message sent: when it fails the socket is
/// closed with `bounds.forbidden_code`.
pub async fn serve_bounded<OnInit, Fut>(
    socket: WebSocket,
    schema: GreenroomSchema,
    protocol: WebSocketProtocols,
    on_init: OnInit,
    recheck: impl Fn() -> Recheck,
    bounds: WsBounds,
    refused: Arc<AtomicU16>,
) where
    OnInit: FnOnce(serde_json::Value) -> Fut + Send + 'static,
    Fut: Future<Output = async_graphql::Result<Data>> + Send + 'static,
{
    let (mut sink, stream) = socket.split();
    let (rejected, mut refusals) = tokio::sync::mpsc::unbounded_channel();
    let admission = Admission {
        inited: Arc::default(),
        running: Arc::default(),
        rejected,
        max: bounds.max_subscriptions,
        legacy: protocol == WebSocketProtocols::SubscriptionsTransportWS,
    };
    let (inited, running) = (admission.inited.clone(), admission.running.clone());
    let input = stream
        .take_while(|m| future::ready(m.is_ok()))
        .filter_map(move |m| {
            future::ready(match m {
                Ok(Message::Text(t)) => admission.admit(t.as_bytes().to_vec()),
                Ok(Message::Binary(b)) => admission.admit(b.to_vec()),
                _ => None,
            })
        });
    let ws =
        async_graphql::http::WebSocket::new(schema, input, protocol).on_connection_init(on_init);
    futures_util::pin_mut!(ws);
    let deadline = tokio::time::sleep(bounds.init_timeout);
    tokio::pin!(deadline);
    let mut ticks = tokio::time::interval(bounds.recheck_every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let forbidden = |why: &'static str| {
        let frame = CloseFrame {
            code: bounds.forbidden_code,
            reason: why.into(),
        };
        (Message::Close(Some(frame)), true)
    };
    loop {
        let (out, last) = tokio::select! {
            biased;
            Some(text) = refusals.recv() => (Message::Text(text.into()), false),
            _ = ticks.tick() => match recheck().await {
                Ok(()) => continue,
                Err(why) => forbidden(why),
            },
            msg = ws.next() => match msg {
                Some(WsMessage::Text(text)) => match recheck().await {
                    Ok(()) => {
                        note_completion(&text, &running);
                        (Message::Text(text.into()), false)
                    }
                    Err(why) => forbidden(why),
                },
                Some(WsMessage::Close(code, reason)) => {
                    let code = close_code(code, refused.load(Ordering::Relaxed));
                    (Message::Close(Some(CloseFrame { code, reason: reason.into() })), true)
                }
                None => break,
            },
            _ = &mut deadline, if !inited.load(Ordering::Relaxed) => {
                let reason = "Connection initialisation timeout".into();
                (Message::Close(Some(CloseFrame { code: INIT_TIMEOUT_CODE, reason })), true)
            }
        };
        if sink.send(out).await.is_err() || last {
            let _ = sink.close().await;
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_close_codes_become_graphql_ws_codes() {
        assert_eq!(close_code(1002, 0), 4400);
        assert_eq!(close_code(1002, 4401), 4401);
        assert_eq!(close_code(1002, 4403), 4403);
        assert_eq!(close_code(1011, 0), 4401);
        assert_eq!(close_code(4429, 0), 4429);
        assert_eq!(close_code(4408, 4403), 4408);
    }
}
