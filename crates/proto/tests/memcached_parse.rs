//! Hand-written cases for the memcached server-side parser: fields, limits,
//! noreply, swallowing, line rules and meta flags.

use std::borrow::Cow;

use fdfs_proto::memcached::{
    parse_request, Action, ArithCommand, ErrorKind, Limits, MetaCommand, MetaFlag, MetaRequest,
    Parsed, ProtocolError, Request, RequestDecoder, RetrievalCommand, StorageCommand, ValueLimit,
};

fn req(input: &[u8]) -> (Request<'_>, usize) {
    match parse_request(input, &Limits::memcached()) {
        Parsed::Request { request, consumed } => (request, consumed),
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
    }
}

fn err_with(input: &[u8], limits: &Limits) -> (ProtocolError, usize) {
    match parse_request(input, limits) {
        Parsed::Error { error, consumed } => (error, consumed),
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
    }
}

fn err(input: &[u8]) -> (ProtocolError, usize) {
    err_with(input, &Limits::memcached())
}

fn reply(input: &[u8]) -> &'static str {
    std::str::from_utf8(err(input).0.reply).unwrap()
}

#[test]
fn storage_fields() {
    let (r, n) = req(b"set fl2 4294967296 -1 3 noreply\r\nabc\r\nget x\r\n");
    assert_eq!(n, 38);
    assert_eq!(
        r,
        Request::Storage {
            command: StorageCommand::Set,
            key: b"fl2",
            flags: 0,
            exptime: -1,
            cas: None,
            noreply: true,
            data: b"abc",
        }
    );
    let (r, _) = req(b"cas casit 0 0 1 12\r\n2\r\n");
    assert!(matches!(
        r,
        Request::Storage {
            command: StorageCommand::Cas,
            cas: Some(12),
            ..
        }
    ));
    // Bare LF ends the line; the data block still needs CRLF.
    let (r, n) = req(b"set lf 0 0 1\nx\r\n");
    assert_eq!((r.key().unwrap(), n), (Cow::Borrowed(&b"lf"[..]), 16));
    // A sixth token other than noreply is ignored, like memcached does.
    let (r, _) = req(b"set k 0 0 1 garbage\r\nx\r\n");
    assert!(!r.noreply());
    // Waiting for the data block does not consume anything.
    let l = Limits::memcached();
    assert_eq!(parse_request(b"set k 0 0 5\r\nabc", &l), Parsed::Incomplete);
    assert_eq!(
        parse_request(b"set k 0 0 5\r\nabcde\r", &l),
        Parsed::Incomplete
    );
}

#[test]
fn retrieval_fields() {
    let (r, _) = req(b"get a  a \r\n");
    assert_eq!(
        r,
        Request::Retrieval {
            command: RetrievalCommand::Get,
            exptime: None,
            keys: vec![b"a", b"a"],
        }
    );
    let (r, _) = req(b"gats 100 gt x\r\n");
    assert_eq!(
        r,
        Request::Retrieval {
            command: RetrievalCommand::Gats,
            exptime: Some(100),
            keys: vec![b"gt", b"x"],
        }
    );
    let (r, _) = req(b"gat 100\r\n");
    assert!(matches!(r, Request::Retrieval { ref keys, .. } if keys.is_empty()));
    // `noreply` is a key for get; control bytes are allowed in keys.
    let (r, _) = req(b"get foo noreply ctl\x01key\r\n");
    assert!(matches!(r, Request::Retrieval { ref keys, .. } if keys.len() == 3));
    assert_eq!(reply(b"get\ta\r\n"), "ERROR\r\n");
    assert_eq!(reply(b"get \r\n"), "ERROR\r\n");
    assert_eq!(
        reply(b"gat abc k\r\n"),
        "CLIENT_ERROR invalid exptime argument\r\n"
    );
    // One long key fails the whole multi-get.
    let mut line = b"get a ".to_vec();
    line.extend(vec![b'k'; 251]);
    line.extend_from_slice(b" b\r\n");
    assert_eq!(err(&line).0.kind, ErrorKind::KeyTooLong);
    // ... unless the limit is raised (nginx sends long URL keys).
    let wide = Limits {
        max_key_len: 4096,
        ..Limits::memcached()
    };
    assert!(matches!(
        parse_request(&line, &wide),
        Parsed::Request { .. }
    ));
    // A multi-get longer than 23 tokens keeps every key.
    let mut line = b"get".to_vec();
    for i in 0..300 {
        line.extend_from_slice(format!(" k{i}").as_bytes());
    }
    line.extend_from_slice(b"\r\n");
    assert!(matches!(req(&line).0, Request::Retrieval { ref keys, .. } if keys.len() == 300));
}

#[test]
fn other_commands() {
    assert_eq!(
        req(b"delete k 0\r\n").0,
        Request::Delete {
            key: b"k",
            noreply: false
        }
    );
    assert_eq!(
        req(b"delete k 0 noreply\r\n").0,
        Request::Delete {
            key: b"k",
            noreply: true
        }
    );
    let (e, _) = err(b"delete k 5 noreply\r\n");
    assert_eq!((e.kind, e.noreply), (ErrorKind::DeleteUsage, true));
    assert_eq!(
        reply(b"delete k 5\r\n"),
        "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n"
    );
    assert_eq!(
        req(b"decr n 18446744073709551615\r\n").0,
        Request::Arithmetic {
            command: ArithCommand::Decr,
            key: b"n",
            delta: u64::MAX,
            noreply: false
        }
    );
    assert_eq!(
        reply(b"incr n -1\r\n"),
        "CLIENT_ERROR invalid numeric delta argument\r\n"
    );
    assert_eq!(
        req(b"touch t -5 noreply\r\n").0,
        Request::Touch {
            key: b"t",
            exptime: -5,
            noreply: true
        }
    );
    assert_eq!(
        req(b"flush_all \r\n").0,
        Request::FlushAll {
            delay: None,
            noreply: false
        }
    );
    assert_eq!(
        req(b"flush_all noreply\r\n").0,
        Request::FlushAll {
            delay: None,
            noreply: true
        }
    );
    assert_eq!(
        req(b"flush_all -1\r\n").0,
        Request::FlushAll {
            delay: Some(-1),
            noreply: false
        }
    );
    assert_eq!(
        req(b"flush_all 5 noreply\r\n").0,
        Request::FlushAll {
            delay: Some(5),
            noreply: true
        }
    );
    assert_eq!(
        reply(b"flush_all abc\r\n"),
        "CLIENT_ERROR invalid exptime argument\r\n"
    );
    assert_eq!(
        req(b"verbosity 1 noreply\r\n").0,
        Request::Verbosity {
            level: 1,
            noreply: true
        }
    );
    assert_eq!(reply(b"verbosity\r\n"), "ERROR\r\n");
    assert_eq!(req(b"stats \r\n").0, Request::Stats { args: vec![] });
    assert_eq!(
        req(b"stats settings\r\n").0,
        Request::Stats {
            args: vec![b"settings"]
        }
    );
    assert_eq!(req(b"version extra\r\n").0, Request::Version);
    assert_eq!(req(b"quit\r\n").0, Request::Quit);
    assert!(matches!(
        req(b"shutdown\r\n").0,
        Request::Admin {
            command: b"shutdown",
            ..
        }
    ));
    for bad in [
        &b"GET foo\r\n"[..],
        b"foobar baz\r\n",
        b"\r\n",
        b"\n",
        b"x\r\n",
        b"set foo\r\n",
        b"cas foo 0 0 1\r\n",
    ] {
        assert_eq!(
            reply(bad),
            "ERROR\r\n",
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    // memcached reads the line as a C string.
    assert_eq!(reply(b"set nul\0key 0 0 1\r\n"), "ERROR\r\n");
}

#[test]
fn noreply_hides_errors_but_not_unknown_command() {
    let (e, n) = err(b"set nre 0 0 -1 noreply\r\nx\r\n");
    assert_eq!(
        (e.kind, e.noreply, e.reply_to_send(), n),
        (ErrorKind::BadCommandLine, true, None, 24)
    );
    let (e, _) = err(b"incr nre abc noreply\r\n");
    assert!(e.noreply);
    let (e, _) = err(b"set foo 0 0 1 noreply extra\r\n");
    assert_eq!((e.kind, e.noreply), (ErrorKind::UnknownCommand, false));
    // A bad data chunk of a noreply set is silent too; for ms it never is.
    let (e, n) = err(b"set k 0 0 1 noreply\r\nxyz");
    assert_eq!((e.kind, e.noreply, n), (ErrorKind::BadDataChunk, true, 24));
    let (e, _) = err(b"ms k 1 q\r\nxyz");
    assert_eq!((e.kind, e.noreply), (ErrorKind::BadDataChunk, false));
}

#[test]
fn numbers_can_be_strict() {
    let strict = Limits {
        wrap_numbers: false,
        ..Limits::memcached()
    };
    let (e, n) = err_with(b"set fl 4294967296 0 1\r\nx\r\n", &strict);
    assert_eq!((e.kind, n), (ErrorKind::BadCommandLine, 23));
    let (e, _) = err_with(b"set k 0 4294967297 1\r\nx\r\n", &strict);
    assert_eq!(e.kind, ErrorKind::BadCommandLine);
    // memcached truncates a 64-bit length to 32 bits: 2^32 + 1 is 1 byte.
    assert!(matches!(
        req(b"set k 0 0 4294967297\r\nx\r\n").0,
        Request::Storage { data: b"x", .. }
    ));
}

#[test]
fn oversized_values_are_swallowed_then_reported() {
    let l = Limits::memcached();
    let (e, n) = err(b"set big 0 0 1048576\r\n");
    assert_eq!(
        (e.kind, e.action, n),
        (ErrorKind::ObjectTooLarge, Action::Swallow(1048578), 21)
    );
    // memcached's item accounting: 1 048 000 bytes fit in -I 1m.
    assert_eq!(
        parse_request(b"set k 0 0 1048000\r\n", &l),
        Parsed::Incomplete
    );
    let bytes = Limits {
        value_limit: ValueLimit::Bytes(4),
        ..Limits::memcached()
    };
    assert!(matches!(
        parse_request(b"set k 0 0 4\r\nabcd\r\n", &bytes),
        Parsed::Request { .. }
    ));
    assert_eq!(
        err_with(b"set k 0 0 5\r\n", &bytes).0.kind,
        ErrorKind::ObjectTooLarge
    );

    // The decoder swallows the block as it streams in, then reports.
    let mut dec = RequestDecoder::new(bytes);
    let input = b"set k 0 0 10 noreply\r\n0123456789\r\nget k\r\n".to_vec();
    let mut events = Vec::new();
    let mut fed = 0;
    let mut buf: Vec<u8> = Vec::new();
    while fed < input.len() || !buf.is_empty() {
        if fed < input.len() {
            let end = (fed + 3).min(input.len());
            buf.extend_from_slice(&input[fed..end]);
            fed = end;
        }
        match dec.decode(&buf) {
            Parsed::Incomplete => {
                if fed == input.len() {
                    break;
                }
            }
            Parsed::Swallowed { consumed } => {
                buf.drain(..consumed);
            }
            Parsed::Request { request, consumed } => {
                events.push(format!("{request:?}"));
                buf.drain(..consumed);
            }
            Parsed::Error { error, consumed } => {
                assert!(!dec.is_swallowing());
                events.push(format!(
                    "{:?} {:?} {}",
                    error.kind, error.action, error.noreply
                ));
                buf.drain(..consumed);
            }
        }
    }
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0], "ObjectTooLarge Continue true");
    assert!(events[1].starts_with("Retrieval"));
}

#[test]
fn line_rules() {
    let l = Limits::memcached();
    // 2049 bytes without newline: close silently, unless it is a multi-get.
    let junk = vec![b'x'; 2049];
    let (e, n) = err(&junk);
    assert_eq!(
        (e.kind, e.action, e.reply, n),
        (ErrorKind::NoNewline, Action::Close, &b""[..], 0)
    );
    assert_eq!(parse_request(&vec![b'x'; 2048], &l), Parsed::Incomplete);
    let mut get = b"get ".to_vec();
    get.extend(vec![b'k'; 5000]);
    assert_eq!(parse_request(&get, &l), Parsed::Incomplete);
    let mut spaced = vec![b' '; 101];
    spaced.extend_from_slice(&get);
    assert_eq!(err(&spaced).0.kind, ErrorKind::NoNewline);
    // Beyond the hard cap even a multi-get is refused, with a reply.
    get.extend(vec![b'k'; 64 * 1024]);
    let (e, _) = err(&get);
    assert_eq!(
        (e.kind, e.action, e.reply),
        (
            ErrorKind::LineTooLong,
            Action::Close,
            &b"CLIENT_ERROR line too long\r\n"[..]
        )
    );
    // A long line that arrived whole is parsed (memcached: key too long).
    let mut long = b"set ".to_vec();
    long.extend(vec![b'k'; 3000]);
    long.extend_from_slice(b" 0 0 1\r\n");
    assert_eq!(err(&long).0.kind, ErrorKind::KeyTooLong);
    // A stray HTTP request makes memcached hang up.
    let (e, _) = err(b"GET /index.html HTTP/1.1\r\n");
    assert_eq!((e.kind, e.action), (ErrorKind::Http, Action::Close));
}

#[test]
fn meta_requests() {
    let (r, _) = req(b"ms mk2 2 F5 T0 c k\r\nhi\r\n");
    let Request::Meta(m) = r else { panic!() };
    assert_eq!(m.command, MetaCommand::Set);
    assert_eq!(m.data, Some(&b"hi"[..]));
    assert_eq!(m.flags.iter().map(|f| f.flag).collect::<Vec<_>>(), b"FTck");
    assert_eq!((m.client_flags(), m.ttl()), (Some(5), Some(0)));
    let Request::Meta(m) = req(b"mg Zm9v b v k\r\n").0 else {
        panic!()
    };
    assert_eq!((&*m.key, m.base64_key()), (&b"foo"[..], true));
    assert_eq!(m.to_owned_line(), b"mg Zm9v b v k\r\n");
    let Request::Meta(m) = req(b"ma cnt MD D5 N0 J13 v q O77\r\n").0 else {
        panic!()
    };
    assert_eq!(
        (
            m.mode(),
            m.delta(),
            m.vivify_ttl(),
            m.initial(),
            m.quiet(),
            m.opaque()
        ),
        (
            Some(b'D'),
            Some(5),
            Some(0),
            Some(13),
            true,
            Some(&b"77"[..])
        )
    );
    assert!(
        matches!(req(b"mn extra\r\n").0, Request::Meta(ref m) if m.command == MetaCommand::Noop)
    );
    assert_eq!(req(b"mn\r\n").0.key(), None);
    // What the nginx module sends for a HEAD: size, flags, cas, TTL, no value.
    let head = MetaRequest {
        command: MetaCommand::Get,
        key: Cow::Borrowed(&b"/img/a.jpg"[..]),
        flags: b"sfct".iter().map(|&f| MetaFlag::bare(f)).collect(),
        data: None,
    };
    assert_eq!(Request::Meta(head).to_bytes(), b"mg /img/a.jpg s f c t\r\n");
    assert!(matches!(req(b"me k\r\n").0, Request::Meta(ref m) if m.command == MetaCommand::Debug));

    let cases: &[(&[u8], &str)] = &[
        (b"mg mkey !\r\n", "CLIENT_ERROR invalid flag\r\n"),
        (b"mg k v v\r\n", "CLIENT_ERROR duplicate flag\r\n"),
        (
            b"mg k T\r\n",
            "CLIENT_ERROR bad token in command line format\r\n",
        ),
        (
            b"mg k Cx\r\n",
            "CLIENT_ERROR bad token in command line format\r\n",
        ),
        (b"mg ! b\r\n", "CLIENT_ERROR error decoding key\r\n"),
        (
            b"mg k MSS\r\n",
            "CLIENT_ERROR incorrect length for M token\r\n",
        ),
        (b"ma k Jx\r\n", "CLIENT_ERROR invalid or duplicate flag\r\n"),
        (
            b"ma k MX\r\n",
            "CLIENT_ERROR invalid mode for ma M token\r\n",
        ),
        (b"md k Z\r\n", "CLIENT_ERROR invalid or duplicate flag\r\n"),
        (
            b"mg k O0123456789012345678901234567890123\r\n",
            "CLIENT_ERROR opaque token too long\r\n",
        ),
        (
            b"mg k a b c d e f g h i j k l m n o p q r s\r\n",
            "CLIENT_ERROR options flags are too long\r\n",
        ),
        (b"mg\r\n", "ERROR\r\n"),
        (b"mx k\r\n", "ERROR\r\n"),
        (b"me\r\n", "CLIENT_ERROR bad command line format\r\n"),
        (b"ms k\r\n", "CLIENT_ERROR bad command line format\r\n"),
        (
            b"ms mk4 abc\r\nhi\r\n",
            "CLIENT_ERROR bad command line format\r\n",
        ),
    ];
    for (input, want) in cases {
        let (e, _) = err(input);
        assert_eq!(
            std::str::from_utf8(e.reply).unwrap(),
            *want,
            "{:?}",
            String::from_utf8_lossy(input)
        );
        assert!(!e.noreply);
    }
    // ms errors found after the length swallow the data block.
    for (input, want) in [
        (&b"ms mk4 2 Z\r\n"[..], "CLIENT_ERROR invalid flag\r\n"),
        (
            b"ms k 2 MX\r\n",
            "CLIENT_ERROR invalid mode for ms M token\r\n",
        ),
        (
            b"ms k 2000000\r\n",
            "SERVER_ERROR object too large for cache\r\n",
        ),
    ] {
        let (e, n) = err(input);
        assert_eq!(std::str::from_utf8(e.reply).unwrap(), want);
        assert_eq!(n, input.len());
        assert!(matches!(e.action, Action::Swallow(_)));
    }
}

trait ToOwnedLine {
    fn to_owned_line(&self) -> Vec<u8>;
}

impl ToOwnedLine for fdfs_proto::memcached::MetaRequest<'_> {
    fn to_owned_line(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(&mut v);
        v
    }
}
