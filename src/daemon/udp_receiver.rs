//! The receive loop of one UDP heartbeat socket: each datagram is one sealed frame, judged
//! by [`FrameJudge`].

use std::sync::{Arc, RwLock};
use std::time::Duration;

use tracing::warn;

use super::sealed::{FrameJudge, SealedRoutes, Transport};
use crate::net::udp_socket::UdpChannelSocket;
use crate::vrrp::udp_frame::stream::MAX_FRAME_LEN;

/// Receives on `socket` until the task is aborted.
pub async fn run(socket: Arc<UdpChannelSocket>, label: String, routes: Arc<RwLock<SealedRoutes>>) {
    let mut judge = FrameJudge::new(Transport::UDP);
    let mut buf = vec![0u8; MAX_FRAME_LEN];
    loop {
        let (len, from) = match socket.recv(&mut buf).await {
            Ok(got) => got,
            Err(error) => {
                warn!(channel = %label, %error, "receive failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        judge.take(&buf[..len], from.ip().to_canonical(), &routes, &label);
    }
}
