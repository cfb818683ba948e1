//! Property tests for the memcached codec: encode→decode round trips for
//! every request and reply type, parsing that does not depend on how the
//! bytes were split, and arbitrary input that never panics.

use std::borrow::Cow;

use fdfs_proto::memcached::{
    parse_request, Action, ArithCommand, Head, Limits, MetaCommand, MetaFlag, MetaReply,
    MetaRequest, MetaStatus, Parsed, PendingData, ReplyLine, Request, RequestDecoder, Response,
    ResponseParser, RetrievalCommand, StorageCommand, Value,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

/// Owned form of a request, so strategies can build it and tests can view it.
#[derive(Debug, Clone)]
enum OReq {
    Retrieval(RetrievalCommand, Option<i32>, Vec<Vec<u8>>),
    Storage(
        StorageCommand,
        Vec<u8>,
        u32,
        i32,
        Option<u64>,
        bool,
        Vec<u8>,
    ),
    Delete(Vec<u8>, bool),
    Arith(ArithCommand, Vec<u8>, u64, bool),
    Touch(Vec<u8>, i32, bool),
    Flush(Option<i32>, bool),
    Version,
    Verbosity(u32, bool),
    Stats(Vec<Vec<u8>>),
    Quit,
    Admin(&'static [u8], Vec<Vec<u8>>),
    Meta(MetaCommand, Vec<u8>, Vec<(u8, Vec<u8>)>, Option<Vec<u8>>),
}

fn slices(v: &[Vec<u8>]) -> Vec<&[u8]> {
    v.iter().map(|k| k.as_slice()).collect()
}

fn view(o: &OReq) -> Request<'_> {
    match o {
        OReq::Retrieval(command, exptime, keys) => Request::Retrieval {
            command: *command,
            exptime: *exptime,
            keys: slices(keys),
        },
        OReq::Storage(command, key, flags, exptime, cas, noreply, data) => Request::Storage {
            command: *command,
            key,
            flags: *flags,
            exptime: *exptime,
            cas: *cas,
            noreply: *noreply,
            data,
        },
        OReq::Delete(key, noreply) => Request::Delete {
            key,
            noreply: *noreply,
        },
        OReq::Arith(command, key, delta, noreply) => Request::Arithmetic {
            command: *command,
            key,
            delta: *delta,
            noreply: *noreply,
        },
        OReq::Touch(key, exptime, noreply) => Request::Touch {
            key,
            exptime: *exptime,
            noreply: *noreply,
        },
        OReq::Flush(delay, noreply) => Request::FlushAll {
            delay: *delay,
            noreply: *noreply,
        },
        OReq::Version => Request::Version,
        OReq::Verbosity(level, noreply) => Request::Verbosity {
            level: *level,
            noreply: *noreply,
        },
        OReq::Stats(args) => Request::Stats { args: slices(args) },
        OReq::Quit => Request::Quit,
        OReq::Admin(command, args) => Request::Admin {
            command,
            args: slices(args),
        },
        OReq::Meta(command, key, flags, data) => Request::Meta(MetaRequest {
            command: *command,
            key: Cow::Borrowed(key),
            flags: flags
                .iter()
                .map(|(f, t)| MetaFlag { flag: *f, token: t })
                .collect(),
            data: data.as_deref(),
        }),
    }
}

/// Any byte a token may hold: not space, not LF, not NUL.
fn key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => vec(prop_oneof![b'a'..=b'z', b'0'..=b'9', Just(b'/'), Just(b'.')], 1..20),
        1 => vec(any::<u8>().prop_filter("token byte", |b| !matches!(b, b' ' | b'\n' | 0)), 1..=250),
    ]
}

fn data() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..100)
}

fn meta_flag(command: MetaCommand) -> impl Strategy<Value = (u8, Vec<u8>)> {
    let modes: &'static [u8] = match command {
        MetaCommand::Set => b"EAPRS",
        MetaCommand::Arithmetic => b"I+D-",
        _ => b"S",
    };
    let num = |s: String| s.into_bytes();
    prop_oneof![
        select(&b"vftcksqhluIPL"[..]).prop_map(|f| (f, vec![])),
        (select(&b"TNR"[..]), any::<i32>()).prop_map(move |(f, n)| (f, num(n.to_string()))),
        any::<u32>().prop_map(move |n| (b'F', num(n.to_string()))),
        (select(&b"CJD"[..]), any::<u64>()).prop_map(move |(f, n)| (f, num(n.to_string()))),
        select(modes).prop_map(|m| (b'M', vec![m])),
        vec(prop_oneof![b'a'..=b'z', b'0'..=b'9'], 0..31).prop_map(|o| (b'O', o)),
    ]
}

fn meta_req() -> impl Strategy<Value = OReq> {
    let cmd = select(vec![
        MetaCommand::Get,
        MetaCommand::Set,
        MetaCommand::Delete,
        MetaCommand::Arithmetic,
        MetaCommand::Noop,
        MetaCommand::Debug,
    ]);
    (cmd, any::<bool>()).prop_flat_map(|(command, binary)| {
        let flags = vec(meta_flag(command), 0..12).prop_map(move |fs| {
            let mut seen = [false; 256];
            let mut out: Vec<(u8, Vec<u8>)> = fs
                .into_iter()
                .filter(|(f, _)| !std::mem::replace(&mut seen[usize::from(*f)], true))
                .collect();
            if binary {
                out.push((b'b', vec![]));
            }
            out
        });
        let k = if binary {
            vec(any::<u8>(), 1..60).boxed()
        } else {
            key().boxed()
        };
        (k, flags, data()).prop_map(move |(k, flags, d)| match command {
            MetaCommand::Noop => OReq::Meta(command, vec![], vec![], None),
            MetaCommand::Debug => {
                let flags = if binary { vec![(b'b', vec![])] } else { vec![] };
                OReq::Meta(command, k, flags, None)
            }
            MetaCommand::Set => OReq::Meta(command, k, flags, Some(d)),
            _ => OReq::Meta(command, k, flags, None),
        })
    })
}

fn request() -> impl Strategy<Value = OReq> {
    let retrieval = select(vec![
        RetrievalCommand::Get,
        RetrievalCommand::Gets,
        RetrievalCommand::Gat,
        RetrievalCommand::Gats,
    ])
    .prop_flat_map(|c| {
        let min = if c.touches() { 0 } else { 1 };
        (Just(c), any::<i32>(), vec(key(), min..5))
            .prop_map(|(c, e, keys)| OReq::Retrieval(c, c.touches().then_some(e), keys))
    });
    let storage = (
        select(vec![
            StorageCommand::Set,
            StorageCommand::Add,
            StorageCommand::Replace,
            StorageCommand::Append,
            StorageCommand::Prepend,
            StorageCommand::Cas,
        ]),
        key(),
        any::<u32>(),
        any::<i32>(),
        any::<u64>(),
        any::<bool>(),
        data(),
    )
        .prop_map(|(c, k, f, e, cas, nr, d)| {
            OReq::Storage(c, k, f, e, (c == StorageCommand::Cas).then_some(cas), nr, d)
        });
    let arith = select(vec![ArithCommand::Incr, ArithCommand::Decr]);
    prop_oneof![
        retrieval,
        storage,
        (key(), any::<bool>()).prop_map(|(k, nr)| OReq::Delete(k, nr)),
        (arith, key(), any::<u64>(), any::<bool>())
            .prop_map(|(c, k, d, nr)| OReq::Arith(c, k, d, nr)),
        (key(), any::<i32>(), any::<bool>()).prop_map(|(k, e, nr)| OReq::Touch(k, e, nr)),
        (any::<Option<i32>>(), any::<bool>()).prop_map(|(d, nr)| OReq::Flush(d, nr)),
        Just(OReq::Version),
        (any::<u32>(), any::<bool>()).prop_map(|(l, nr)| OReq::Verbosity(l, nr)),
        vec(key(), 0..3).prop_map(OReq::Stats),
        Just(OReq::Quit),
        (
            select(vec![&b"shutdown"[..], b"slabs", b"lru_crawler", b"watch"]),
            vec(key(), 0..3)
        )
            .prop_map(|(c, a)| OReq::Admin(c, a)),
        meta_req(),
    ]
}

/// Lines that exercise the error paths: tokens memcached cares about,
/// joined by one or two spaces, ended by CRLF or LF.
fn junk_line() -> impl Strategy<Value = Vec<u8>> {
    let tok = select(vec![
        &b"set"[..],
        b"get",
        b"gets",
        b"gat",
        b"cas",
        b"incr",
        b"delete",
        b"touch",
        b"flush_all",
        b"verbosity",
        b"mg",
        b"ms",
        b"md",
        b"ma",
        b"mn",
        b"me",
        b"k",
        b"0",
        b"1",
        b"2",
        b"-1",
        b"abc",
        b"noreply",
        b"4294967296",
        b"v",
        b"q",
        b"T1",
        b"MZ",
        b"b",
        b"Zm9v",
        b"O1",
        b"HTTP/1.1",
        b"GET",
        b"\r",
        b"\t",
        b"x",
    ]);
    (vec(tok, 0..8), any::<bool>(), any::<bool>()).prop_map(|(toks, two, lf)| {
        let sep: &[u8] = if two { b"  " } else { b" " };
        let mut line = toks.join(sep);
        line.extend_from_slice(if lf { b"\n" } else { b"\r\n" });
        line
    })
}

fn stream() -> impl Strategy<Value = Vec<u8>> {
    vec(
        prop_oneof![
            request().prop_map(|r| view(&r).to_bytes()),
            junk_line(),
            data()
        ],
        1..8,
    )
    .prop_map(|parts| parts.concat())
}

/// Runs a decoder over `input` fed in chunks ending at `cuts`; returns the
/// non-swallow events with the absolute offset at which each ended.
fn events(input: &[u8], cuts: &[usize]) -> Vec<String> {
    let mut dec = RequestDecoder::new(Limits::memcached());
    let mut out = Vec::new();
    let mut start = 0; // absolute offset of buf[0]
    let mut fed = 0;
    let mut ends: Vec<usize> = cuts.iter().copied().filter(|&c| c < input.len()).collect();
    ends.sort_unstable();
    ends.push(input.len());
    for end in ends {
        if end <= fed {
            continue;
        }
        fed = end;
        loop {
            let buf = &input[start..fed];
            match dec.decode(buf) {
                Parsed::Incomplete => break,
                Parsed::Swallowed { consumed } => {
                    assert!(consumed > 0 && consumed <= buf.len());
                    start += consumed;
                }
                Parsed::Request { request, consumed } => {
                    assert!(consumed > 0 && consumed <= buf.len());
                    // Whatever parses re-encodes canonically and parses back.
                    let again = request.to_bytes();
                    match parse_request(&again, &Limits::memcached()) {
                        Parsed::Request {
                            request: r2,
                            consumed: c2,
                        } => {
                            assert_eq!((&r2, c2), (&request, again.len()));
                        }
                        other => panic!("{request:?} re-encoded gave {other:?}"),
                    }
                    start += consumed;
                    out.push(format!("{start} {request:?}"));
                }
                Parsed::Error { error, consumed } => {
                    assert!(consumed <= buf.len());
                    assert!(!matches!(error.action, Action::Swallow(_)));
                    start += consumed;
                    out.push(format!("{start} {error:?}"));
                    if error.action == Action::Close {
                        return out;
                    }
                    assert!(consumed > 0);
                }
            }
        }
    }
    out
}

/// Like [`events`], but storage data is consumed by the caller after
/// [`RequestDecoder::decode_head`], the way a server streaming to disk would.
fn events_streaming(input: &[u8], cuts: &[usize]) -> Vec<String> {
    let mut dec = RequestDecoder::new(Limits::memcached());
    let mut out = Vec::new();
    let mut start = 0;
    let mut fed = 0;
    // A data block being read: the pending request and the bytes so far.
    let mut reading: Option<(PendingData<'_>, Vec<u8>)> = None;
    let mut ends: Vec<usize> = cuts.iter().copied().filter(|&c| c < input.len()).collect();
    ends.sort_unstable();
    ends.push(input.len());
    for end in ends {
        if end <= fed {
            continue;
        }
        fed = end;
        loop {
            if let Some((pd, acc)) = reading.as_mut() {
                let want = pd.data_len + 2 - acc.len();
                let take = want.min(fed - start);
                acc.extend_from_slice(&input[start..start + take]);
                start += take;
                if acc.len() < pd.data_len + 2 {
                    break;
                }
                let Some((pd, acc)) = reading.take() else {
                    unreachable!()
                };
                let trailer = [acc[pd.data_len], acc[pd.data_len + 1]];
                match pd.check_trailer(trailer) {
                    Ok(()) => {
                        let data = &acc[..pd.data_len];
                        out.push(format!("{start} {:?}", pd.with_data(data)));
                    }
                    Err(error) => out.push(format!("{start} {error:?}")),
                }
                continue;
            }
            match dec.decode_head(&input[start..fed]) {
                Head::Data(pd) => {
                    start += pd.consumed;
                    reading = Some((pd, Vec::new()));
                }
                Head::Done(Parsed::Incomplete) => break,
                Head::Done(Parsed::Swallowed { consumed }) => start += consumed,
                Head::Done(Parsed::Request { request, consumed }) => {
                    start += consumed;
                    out.push(format!("{start} {request:?}"));
                }
                Head::Done(Parsed::Error { error, consumed }) => {
                    start += consumed;
                    out.push(format!("{start} {error:?}"));
                    if error.action == Action::Close {
                        return out;
                    }
                }
            }
        }
    }
    out
}

fn meta_reply() -> impl Strategy<Value = MetaReply<'static>> {
    let status = prop_oneof![
        Just(MetaStatus::Header),
        Just(MetaStatus::Miss),
        Just(MetaStatus::NotFound),
        Just(MetaStatus::NotStored),
        Just(MetaStatus::Exists),
        Just(MetaStatus::Noop),
    ];
    (
        status,
        vec(
            (
                select(&b"fstckOWXZbhl"[..]),
                select(vec![&b""[..], b"5", b"-1", b"mkey", b"Zm9v"]),
            ),
            0..6,
        ),
    )
        .prop_map(|(status, fl)| MetaReply {
            status,
            flags: fl
                .into_iter()
                .map(|(flag, token)| MetaFlag { flag, token })
                .collect(),
        })
}

fn text() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>().prop_filter("no LF", |b| *b != b'\n'), 0..40)
}

/// Owned `VALUE` item: key, flags, cas, data.
type OValue = (Vec<u8>, u32, Option<u64>, Vec<u8>);

/// Owned reply model: a response plus the bytes it borrows.
#[derive(Debug, Clone)]
enum OResp {
    Values(Vec<OValue>),
    Stats(Vec<(Vec<u8>, Vec<u8>)>),
    MetaValue(MetaReply<'static>, Vec<u8>),
    Simple(usize, u64),
    Text(usize, Vec<u8>),
    Meta(MetaReply<'static>),
    Debug(Vec<u8>, Vec<u8>),
}

fn rview(o: &OResp) -> Response<'_> {
    match o {
        OResp::Values(v) => Response::Values(
            v.iter()
                .map(|(key, flags, cas, data)| Value {
                    key,
                    flags: *flags,
                    cas: *cas,
                    data,
                })
                .collect(),
        ),
        OResp::Stats(s) => Response::Stats(
            s.iter()
                .map(|(n, v)| (n.as_slice(), v.as_slice()))
                .collect(),
        ),
        OResp::MetaValue(r, d) => {
            let mut reply = r.clone();
            reply.status = MetaStatus::Value(d.len());
            Response::MetaValue { reply, data: d }
        }
        OResp::Simple(i, n) => Response::Line(
            [
                ReplyLine::Stored,
                ReplyLine::NotStored,
                ReplyLine::Exists,
                ReplyLine::NotFound,
                ReplyLine::Deleted,
                ReplyLine::Touched,
                ReplyLine::Ok,
                ReplyLine::Reset,
                ReplyLine::Error,
                ReplyLine::Number(*n),
            ][*i % 10]
                .clone(),
        ),
        OResp::Text(i, t) => Response::Line(match i % 3 {
            0 => ReplyLine::Version(t),
            1 => ReplyLine::ClientError(t),
            _ => ReplyLine::ServerError(t),
        }),
        OResp::Meta(m) => Response::Line(ReplyLine::Meta(m.clone())),
        OResp::Debug(k, info) => Response::Line(ReplyLine::MetaDebug { key: k, info }),
    }
}

fn response() -> impl Strategy<Value = OResp> {
    let tokb = || {
        vec(
            any::<u8>().prop_filter("token", |b| !matches!(b, b' ' | b'\n')),
            1..30,
        )
    };
    prop_oneof![
        vec((key(), any::<u32>(), any::<Option<u64>>(), data()), 0..4).prop_map(OResp::Values),
        vec((tokb(), text()), 1..4).prop_map(OResp::Stats),
        (meta_reply(), data()).prop_map(|(r, d)| OResp::MetaValue(r, d)),
        (0usize..10, any::<u64>()).prop_map(|(i, n)| OResp::Simple(i, n)),
        (0usize..3, text()).prop_map(|(i, t)| OResp::Text(i, t)),
        meta_reply().prop_map(OResp::Meta),
        (tokb(), text()).prop_map(|(k, i)| OResp::Debug(k, i)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn request_round_trip(o in request()) {
        let r = view(&o);
        let bytes = r.to_bytes();
        match parse_request(&bytes, &Limits::memcached()) {
            Parsed::Request { request, consumed } => {
                prop_assert_eq!(consumed, bytes.len());
                prop_assert_eq!(&request, &r);
                prop_assert_eq!(request.to_bytes(), bytes);
            }
            other => prop_assert!(false, "{:?} -> {:?}", String::from_utf8_lossy(&bytes), other),
        }
    }

    #[test]
    fn response_round_trip(o in response(), tail in data()) {
        let r = rview(&o);
        let mut bytes = r.to_bytes();
        let len = bytes.len();
        bytes.extend_from_slice(&tail);
        let p = ResponseParser::new();
        let (parsed, used) = p.parse_response(&bytes).unwrap().unwrap();
        prop_assert_eq!(used, len);
        prop_assert_eq!(&parsed, &r);
        for cut in 0..len {
            prop_assert_eq!(p.parse_response(&bytes[..cut]), Ok(None));
        }
    }

    #[test]
    fn split_anywhere_equals_whole(input in stream(), cuts in vec(0usize..4096, 0..12)) {
        let whole = events(&input, &[]);
        let split = events(&input, &cuts);
        prop_assert_eq!(&whole, &split);
        let bytewise: Vec<usize> = (1..input.len()).collect();
        prop_assert_eq!(&whole, &events(&input, &bytewise));
    }

    #[test]
    fn streaming_data_equals_buffered(input in stream(), cuts in vec(0usize..4096, 0..12)) {
        prop_assert_eq!(events(&input, &[]), events_streaming(&input, &cuts));
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in vec(any::<u8>(), 0..3000), cuts in vec(0usize..3000, 0..8)) {
        let _ = events(&input, &cuts);
        let p = ResponseParser::new();
        let mut pos = 0;
        while let Ok(Some((resp, used))) = p.parse_response(&input[pos..]) {
            prop_assert!(used > 0);
            let again = resp.to_bytes();
            prop_assert_eq!(p.parse_response(&again), Ok(Some((resp, again.len()))));
            pos += used;
        }
        let _ = p.parse_line(&input);
        let _ = p.parse_trailer(&input);
    }

    #[test]
    fn junk_streams_never_panic(input in stream(), cuts in vec(0usize..2000, 0..8)) {
        let _ = events(&input, &cuts);
        let p = ResponseParser::new();
        let _ = p.parse_response(&input);
    }
}
