//! Helpers for tests of the NMS binding (OMA-TS-REST_NetAPI_NMS): what a
//! client reads of the JSON representations.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The values of attribute `name` of an object or folder (TS 5.2.2
/// `attributes.attribute[]`, each a name and its values).
pub fn attribute(item: &Value, name: &str) -> Vec<String> {
    item["attributes"]["attribute"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["name"].as_str() == Some(name))
        .flat_map(|a| a["value"].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

/// The notification lists a subscriber received, in arrival order.
#[derive(Clone, Default)]
pub struct Received(Arc<Mutex<Vec<Value>>>);

impl Received {
    pub fn lists(&self) -> Vec<Value> {
        self.0.lock().unwrap().clone()
    }

    /// Waits until `done` holds for the lists received, or fails after
    /// 20 s.
    pub fn wait_for(&self, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let start = Instant::now();
        loop {
            let lists = self.lists();
            if done(&lists) {
                return lists;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{what}: got {lists:#?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A subscriber: an HTTP/1.1 server on loopback that records each POSTed
/// JSON body and answers `status` (keep-alive honoured).
pub fn subscriber(status: u16) -> (SocketAddr, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Received::default();
    let sink = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let sink = sink.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                loop {
                    let mut length = 0usize;
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let l = line.trim_end();
                        if l.is_empty() {
                            break;
                        }
                        if let Some((n, v)) = l.split_once(':') {
                            if n.eq_ignore_ascii_case("content-length") {
                                length = v.trim().parse().unwrap_or(0);
                            }
                        }
                    }
                    let mut body = vec![0u8; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                        sink.0.lock().unwrap().push(v);
                    }
                    let answer = format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n");
                    if writer.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, received)
}
