//! A cable between a service and PostgreSQL that a test can pull: a TCP
//! pass-through on a port of the test's own. Pulled, it drops every
//! connection through it and stops listening, so the service sees what a
//! stopped database looks like from the network (connections cut, new ones
//! refused) while every other test keeps the shared server. Plugged back
//! in, it listens again on the same port.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::ports::{self, ReservedPort};

pub struct Cable {
    port: ReservedPort,
    plugged: Arc<watch::Sender<bool>>,
    task: JoinHandle<()>,
}

impl Cable {
    /// A plugged-in cable to `upstream` (host and port of PostgreSQL).
    pub fn to(upstream: String) -> Self {
        let port = ports::reserve();
        let (plugged, state) = watch::channel(true);
        let listen = SocketAddr::from(([127, 0, 0, 1], port.port()));
        let task = tokio::spawn(run(listen, upstream, state));
        Self {
            port,
            plugged: Arc::new(plugged),
            task,
        }
    }

    /// Where the service connects instead of the database.
    pub fn port(&self) -> u16 {
        self.port.port()
    }

    /// Cuts every connection and refuses new ones.
    pub fn pull(&self) {
        self.plugged.send_replace(false);
    }

    /// Lets connections through again.
    pub fn plug(&self) {
        self.plugged.send_replace(true);
    }
}

impl Drop for Cable {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(listen: SocketAddr, upstream: String, mut state: watch::Receiver<bool>) {
    loop {
        if state.wait_for(|plugged| *plugged).await.is_err() {
            return;
        }
        let listener = match TcpListener::bind(listen).await {
            Ok(listener) => listener,
            Err(_) => {
                // The port was just closed; try again shortly.
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                continue;
            }
        };
        let connections = state.clone();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    if let Ok((client, _)) = accepted {
                        tokio::spawn(pass_through(client, upstream.clone(), connections.clone()));
                    }
                }
                pulled = state.wait_for(|plugged| !*plugged) => {
                    if pulled.is_err() {
                        return;
                    }
                    // Dropping the listener closes the port: new
                    // connections are refused.
                    break;
                }
            }
        }
    }
}

async fn pass_through(mut client: TcpStream, upstream: String, mut state: watch::Receiver<bool>) {
    let Ok(mut server) = TcpStream::connect(&upstream).await else {
        return;
    };
    // Pulled: both ends are dropped, mid-query or not.
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = state.wait_for(|plugged| !*plugged) => {}
    }
}
