//! Replays every step of `shared/testdata/memcached-transcripts.json` (real
//! memcached 1.6.18) through the codec: the request decoder must split the
//! sent bytes into exactly the commands memcached saw, produce the exact
//! error replies memcached sent, stay silent where memcached did, and every
//! recorded reply must parse with the client-side parser and fit the request
//! it answers.

use std::collections::HashMap;
use std::path::PathBuf;

use fdfs_proto::memcached::{
    apply_delta, Action, Limits, MetaCommand, MetaStatus, Parsed, ReplyLine, Request,
    RequestDecoder, Response, ResponseParser, RetrievalCommand, StorageCommand,
};
use serde_json::Value as Json;

fn testdata() -> PathBuf {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    loop {
        for cand in [dir.join("shared/testdata"), dir.join("../shared/testdata")] {
            if cand.join("memcached-transcripts.json").is_file() {
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

/// The bytes of a step; the multi-megabyte ones are described, not stored.
fn send_bytes(case: &str, step: &Json) -> Vec<u8> {
    if let Some(h) = step["send_hex"].as_str() {
        return unhex(h);
    }
    let desc = step["send_desc"].as_str().unwrap_or("");
    if desc.starts_with("set big 0 0 1572864") {
        let mut v = b"set big 0 0 1572864\r\n".to_vec();
        v.extend(std::iter::repeat_n(b'x', 1572864));
        v.extend_from_slice(b"\r\n");
        return v;
    }
    if desc.starts_with("2097152 bytes of 'y'") {
        let mut v = vec![b'y'; 2097152];
        v.extend_from_slice(b"\r\n");
        return v;
    }
    if desc.starts_with("get followed by 300 keys") {
        let mut v = b"get".to_vec();
        for i in 0..300 {
            v.extend_from_slice(format!(" mk{i:08}").as_bytes());
        }
        v.extend_from_slice(b"\r\n");
        return v;
    }
    if case.starts_with("line too long without newline") {
        // The notes: 4096 bytes without a newline, not starting with get.
        return vec![b'x'; 4096];
    }
    panic!("case {case}: cannot rebuild step {step}");
}

/// Splits everything memcached sent after a step into complete replies.
fn split_replies(recv: &[u8]) -> Vec<(Response<'_>, &[u8])> {
    let parser = ResponseParser::new();
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < recv.len() {
        let (resp, used) = parser
            .parse_response(&recv[pos..])
            .unwrap_or_else(|e| panic!("reply {:?}: {e}", String::from_utf8_lossy(&recv[pos..])))
            .unwrap_or_else(|| panic!("truncated reply {:?}", String::from_utf8_lossy(recv)));
        out.push((resp, &recv[pos..pos + used]));
        pos += used;
    }
    out
}

/// Does `resp` plausibly answer `req`? (Hit/miss is the server's business.)
fn fits(req: &Request<'_>, resp: &Response<'_>) -> bool {
    use ReplyLine as L;
    match (req, resp) {
        (Request::Retrieval { command, keys, .. }, Response::Values(values)) => {
            // Hits come in request order (a subsequence of the keys), and
            // only gets/gats carry the cas unique.
            let mut ks = keys.iter();
            values
                .iter()
                .all(|v| v.cas.is_some() == command.returns_cas() && ks.any(|k| *k == v.key))
        }
        (Request::Storage { .. }, Response::Line(l)) => {
            matches!(l, L::Stored | L::NotStored | L::Exists | L::NotFound)
        }
        (Request::Delete { .. }, Response::Line(l)) => matches!(l, L::Deleted | L::NotFound),
        (Request::Arithmetic { .. }, Response::Line(l)) => {
            matches!(l, L::Number(_) | L::NotFound | L::ClientError(_))
        }
        (Request::Touch { .. }, Response::Line(l)) => matches!(l, L::Touched | L::NotFound),
        (Request::FlushAll { .. } | Request::Verbosity { .. }, Response::Line(L::Ok)) => true,
        (Request::Version, Response::Line(L::Version(v))) => v.split(|&b| b == b'.').count() == 3,
        (Request::Stats { .. }, Response::Stats(_)) => true,
        (Request::Meta(m), resp) => {
            let (status, flags) = match resp {
                Response::MetaValue { reply, data } => {
                    assert_eq!(reply.status, MetaStatus::Value(data.len()));
                    (reply.status, &reply.flags)
                }
                Response::Line(L::Meta(reply)) => (reply.status, &reply.flags),
                Response::Line(L::ClientError(_)) => return m.command == MetaCommand::Arithmetic,
                _ => return false,
            };
            // Return flags come back in request order and only when asked.
            let asked: Vec<u8> = m.flags.iter().map(|f| f.flag).collect();
            let mut it = asked.iter();
            let flags_ok = flags
                .iter()
                .all(|f| matches!(f.flag, b'W' | b'X' | b'Z' | b'b') || it.any(|&a| a == f.flag));
            let wants_value = m.has(b'v');
            let status_ok = match (m.command, status) {
                (MetaCommand::Get, MetaStatus::Value(_)) => wants_value,
                (MetaCommand::Get, MetaStatus::Header) => !wants_value,
                (MetaCommand::Get, MetaStatus::Miss) => true,
                (MetaCommand::Set, s) => matches!(
                    s,
                    MetaStatus::Header
                        | MetaStatus::NotStored
                        | MetaStatus::Exists
                        | MetaStatus::NotFound
                ),
                (MetaCommand::Delete, s) => {
                    matches!(
                        s,
                        MetaStatus::Header | MetaStatus::NotFound | MetaStatus::Exists
                    )
                }
                (MetaCommand::Arithmetic, MetaStatus::Value(_)) => wants_value,
                (MetaCommand::Arithmetic, s) => !matches!(s, MetaStatus::Miss | MetaStatus::Noop),
                (MetaCommand::Noop, s) => s == MetaStatus::Noop,
                _ => false,
            };
            flags_ok && status_ok
        }
        _ => false,
    }
}

/// Whether a request can legitimately produce no reply at all.
fn may_be_silent(req: &Request<'_>) -> bool {
    match req {
        Request::Quit => true,
        Request::Meta(m) => m.quiet(),
        r => r.noreply(),
    }
}

struct Tally {
    steps: usize,
    commands: usize,
    errors: usize,
    values: usize,
}

/// What the server holds, as far as the transcript tells: key → (flags,
/// data). All cases ran against one server, in order, so it spans cases.
/// Used to check that the fields the codec parsed (key, flags, data) and
/// `apply_delta` agree with what memcached later returned.
#[derive(Default)]
struct Model(HashMap<Vec<u8>, (u32, Vec<u8>)>);

impl Model {
    /// Updates the model with a request and its reply (`None`: silent);
    /// returns how many `VALUE` items were checked against it.
    fn observe(&mut self, req: &Request<'_>, resp: Option<&Response<'_>>) -> Result<usize, String> {
        use ReplyLine as L;
        match (req, resp) {
            (
                Request::Storage {
                    command,
                    key,
                    flags,
                    data,
                    ..
                },
                Some(Response::Line(L::Stored)),
            ) => {
                let k = key.to_vec();
                match command {
                    StorageCommand::Append | StorageCommand::Prepend => {
                        if let Some((_, old)) = self.0.get_mut(&k) {
                            *old = if *command == StorageCommand::Append {
                                [&old[..], data].concat()
                            } else {
                                [data, &old[..]].concat()
                            };
                        }
                    }
                    _ => {
                        self.0.insert(k, (*flags, data.to_vec()));
                    }
                }
            }
            (Request::Storage { .. }, Some(_)) | (Request::Touch { .. }, _) => {}
            (
                Request::Arithmetic {
                    command,
                    key,
                    delta,
                    ..
                },
                Some(r),
            ) => {
                if let Some((_, old)) = self.0.get_mut(*key) {
                    let got = apply_delta(old, *command, *delta);
                    match (r, got) {
                        (Response::Line(L::Number(n)), Ok(out)) if out.value == *n => {
                            *old = out.stored;
                        }
                        (Response::Line(L::ClientError(_)), Err(_)) => {}
                        (Response::Line(L::NotFound), _) => {
                            self.0.remove(*key);
                        }
                        (r, got) => {
                            return Err(format!("apply_delta gave {got:?}, memcached {r:?}"))
                        }
                    }
                }
            }
            (Request::FlushAll { .. }, _) => self.0.clear(),
            (Request::Retrieval { .. }, Some(Response::Values(values))) => {
                for v in values {
                    if let Some((flags, data)) = self.0.get(v.key) {
                        if (*flags, &data[..]) != (v.flags, v.data) {
                            return Err(format!(
                                "VALUE {:?} {} {:?}, the parsed requests stored {flags} {:?}",
                                String::from_utf8_lossy(v.key),
                                v.flags,
                                String::from_utf8_lossy(v.data),
                                String::from_utf8_lossy(data)
                            ));
                        }
                    }
                }
                return Ok(values.iter().filter(|v| self.0.contains_key(v.key)).count());
            }
            // Silent writes, deletes and meta commands: outcome unknown.
            (r, _) => {
                if let Some(k) = r.key() {
                    self.0.remove(&k[..]);
                }
            }
        }
        Ok(0)
    }
}

macro_rules! check {
    ($cond:expr, $($fmt:tt)*) => {
        if !$cond {
            return Err(format!($($fmt)*));
        }
    };
}

/// Replays all cases with `limits`; the first inconsistency is the error.
fn replay(limits: &Limits) -> Result<Tally, String> {
    let path = testdata().join("memcached-transcripts.json");
    let doc: Json = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 64);
    let mut tally = Tally {
        steps: 0,
        commands: 0,
        errors: 0,
        values: 0,
    };
    let mut model = Model::default();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let mut dec = RequestDecoder::new(limits.clone());
        let mut buf: Vec<u8> = Vec::new();
        let mut closed = false;
        for (si, step) in case["steps"].as_array().unwrap().iter().enumerate() {
            let ctx = format!("case {name:?} step {si}");
            check!(!closed, "{ctx}: bytes sent after the codec closed");
            buf.extend_from_slice(&send_bytes(name, step));
            let recv = unhex(step["recv_hex"].as_str().unwrap());
            let replies = split_replies(&recv);
            let mut next = 0;
            loop {
                match dec.decode(&buf) {
                    Parsed::Incomplete => break,
                    Parsed::Swallowed { consumed } => {
                        check!(consumed > 0, "{ctx}: empty swallow");
                        buf.drain(..consumed);
                    }
                    Parsed::Request { request, consumed } => {
                        tally.commands += 1;
                        // A noreply command must not claim the next reply.
                        let answer = replies
                            .get(next)
                            .filter(|(resp, _)| !request.noreply() && fits(&request, resp));
                        if let Some((resp, _)) = answer {
                            tally.values += model
                                .observe(&request, Some(resp))
                                .map_err(|e| format!("{ctx}: {e}"))?;
                            next += 1;
                        } else {
                            check!(
                                may_be_silent(&request),
                                "{ctx}: {request:?} got {:?}",
                                replies.get(next).map(|r| String::from_utf8_lossy(r.1))
                            );
                            model
                                .observe(&request, None)
                                .map_err(|e| format!("{ctx}: {e}"))?;
                        }
                        let quit = request == Request::Quit;
                        buf.drain(..consumed);
                        if quit {
                            closed = true;
                            break;
                        }
                    }
                    Parsed::Error { error, consumed } => {
                        tally.errors += 1;
                        check!(
                            !matches!(error.action, Action::Swallow(_)),
                            "{ctx}: decoder leaked a swallow"
                        );
                        if let Some(reply) = error.reply_to_send() {
                            let got = replies.get(next).map(|r| r.1);
                            check!(
                                got == Some(reply),
                                "{ctx}: codec error {error:?}, memcached sent {:?}",
                                got.map(String::from_utf8_lossy)
                            );
                            next += 1;
                        }
                        buf.drain(..consumed);
                        if error.action == Action::Close {
                            closed = true;
                            break;
                        }
                    }
                }
            }
            check!(
                next == replies.len(),
                "{ctx}: memcached sent {:?}, the codec accounts for {next} replies",
                String::from_utf8_lossy(&recv)
            );
            check!(
                closed == step["server_closed"].as_bool().unwrap_or(false),
                "{ctx}: connection close differs"
            );
            tally.steps += 1;
        }
        check!(
            closed || buf.is_empty(),
            "case {name:?}: {} bytes left unparsed",
            buf.len()
        );
    }
    Ok(tally)
}

#[test]
fn every_transcript_step_is_consistent_with_the_codec() {
    let t = replay(&Limits::memcached()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.steps, 225);
    // Derived from the transcripts: every command and refused line memcached saw.
    assert_eq!((t.commands, t.errors), (187, 49));
    // VALUE items whose flags and bytes were predicted from parsed requests.
    assert_eq!(t.values, 25);
}

#[test]
fn replay_detects_a_codec_that_refuses_wrapped_flags() {
    let limits = Limits {
        wrap_numbers: false,
        ..Limits::memcached()
    };
    let err = replay(&limits).err().expect("must diverge");
    assert!(err.contains("flags range"), "{err}");
}

#[test]
fn replay_detects_a_codec_with_another_key_limit() {
    let limits = Limits {
        max_key_len: 251,
        ..Limits::memcached()
    };
    let err = replay(&limits).err().expect("must diverge");
    assert!(err.contains("251 bytes"), "{err}");
}

#[test]
fn get_never_carries_cas_and_gets_always_does() {
    for (cmd, cas) in [
        (RetrievalCommand::Get, false),
        (RetrievalCommand::Gat, false),
        (RetrievalCommand::Gets, true),
        (RetrievalCommand::Gats, true),
    ] {
        assert_eq!(cmd.returns_cas(), cas);
    }
}
