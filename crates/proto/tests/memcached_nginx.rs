//! The memcached traffic of stock nginx 1.22.1 (`memcached_pass`) from
//! `shared/testdata/nginx-memcached-module-transcripts.json`, through the
//! codec: nginx's key escaping, the server-side parse of what nginx sent
//! (including memcached's exact error for long keys) and the streaming
//! client-side parse of what memcached answered, against nginx's verdict.

use std::path::PathBuf;

use fdfs_proto::memcached::{
    nginx_escape_key, parse_request, Limits, Parsed, ReplyLine, Request, ResponseParser,
    RetrievalCommand,
};
use serde_json::Value as Json;

fn testdata() -> PathBuf {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    loop {
        for cand in [dir.join("shared/testdata"), dir.join("../shared/testdata")] {
            if cand
                .join("nginx-memcached-module-transcripts.json")
                .is_file()
            {
                return cand;
            }
        }
        assert!(
            dir.pop(),
            "shared/testdata not found above CARGO_MANIFEST_DIR"
        );
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn latin1(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap())
        .collect()
}

/// nginx's `$uri`: the path without the query, percent-decoded.
fn uri_of(request: &[u8]) -> Vec<u8> {
    let line_end = request.iter().position(|&b| b == b'\r').unwrap();
    let target = request[..line_end].split(|&b| b == b' ').nth(1).unwrap();
    let path = target.split(|&b| b == b'?').next().unwrap();
    let mut out = Vec::new();
    let mut i = 0;
    while i < path.len() {
        if path[i] == b'%' && i + 2 < path.len() {
            let hex = std::str::from_utf8(&path[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(path[i]);
            i += 1;
        }
    }
    out
}

#[test]
fn nginx_memcached_exchanges_go_through_the_codec() {
    let path = testdata().join("nginx-memcached-module-transcripts.json");
    let doc: Json = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let parser = ResponseParser::new();
    let mut exchanges = 0;
    for case in doc["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let status: u16 = case["status_line"].as_str().unwrap()[9..12]
            .parse()
            .unwrap();
        let head = case["request"].as_str().unwrap().starts_with("HEAD ");
        for up in case["upstream"].as_array().unwrap() {
            if up["connection_refused"].as_bool() == Some(true) {
                assert_eq!(status, 502, "{name}");
                continue;
            }
            exchanges += 1;
            let sent = unhex(up["sent_to_memcached_hex"].as_str().unwrap());
            let got = unhex(up["received_from_memcached_hex"].as_str().unwrap());

            // nginx escapes $uri into the key it sends.
            let mut want = b"get ".to_vec();
            nginx_escape_key(
                &uri_of(&latin1(case["request"].as_str().unwrap())),
                &mut want,
            );
            want.extend_from_slice(b"\r\n");
            assert_eq!(sent, want, "{name}: key escaping");

            match parse_request(&sent, &Limits::memcached()) {
                Parsed::Request {
                    request: Request::Retrieval { command, keys, .. },
                    consumed,
                } => {
                    assert_eq!(
                        (command, keys.len(), consumed),
                        (RetrievalCommand::Get, 1, sent.len())
                    );
                    let key = keys[0];
                    // Stream like nginx: header line, body moved by the caller, trailer.
                    let (line, used) = parser.parse_line(&got).unwrap().unwrap();
                    match line {
                        ReplyLine::Value {
                            key: k, len, cas, ..
                        } => {
                            assert_eq!((k, cas), (key, None), "{name}");
                            assert!(status == 200 || status == 206, "{name}");
                            let body = &got[used..used + len];
                            let want_body = unhex(case["body_hex"].as_str().unwrap());
                            if status == 200 && !head {
                                assert_eq!(body, &want_body[..], "{name}");
                            }
                            let t = parser.parse_trailer(&got[used + len..]).unwrap().unwrap();
                            let (end, rest) =
                                parser.parse_line(&got[used + len + t..]).unwrap().unwrap();
                            assert_eq!((end, used + len + t + rest), (ReplyLine::End, got.len()));
                        }
                        ReplyLine::End => assert_eq!((status, used), (404, got.len()), "{name}"),
                        other => panic!("{name}: {other:?}"),
                    }
                }
                Parsed::Error { error, consumed } => {
                    // memcached refused the key; nginx turns that into 502.
                    assert_eq!((error.reply, consumed), (&got[..], sent.len()), "{name}");
                    let (line, _) = parser.parse_line(&got).unwrap().unwrap();
                    assert!(matches!(line, ReplyLine::ClientError(_)));
                    assert_eq!(status, 502, "{name}");
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }
    assert_eq!(exchanges, 20);
}

#[test]
fn nginx_escaping_rule() {
    let mut out = Vec::new();
    nginx_escape_key(b"/a b%c\n\x1f\x7f\xc3\xa9/x", &mut out);
    assert_eq!(out, b"/a%20b%25c%0A%1F\x7f\xc3\xa9/x");
}
