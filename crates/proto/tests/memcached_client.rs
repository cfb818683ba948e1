//! Client-side reply parsing: streaming headers, whole replies, bad input.

use fdfs_proto::memcached::{
    encode_value_header, MetaFlag, MetaReply, MetaStatus, ReplyLine, Response, ResponseError,
    ResponseParser, Value,
};

const P: ResponseParser = ResponseParser::new();

#[test]
fn streaming_a_value_in_pieces() {
    // What the nginx module does: header first, body moved by the caller.
    let wire = b"VALUE /hit.jpg 0 19\r\n0123456789abcdefghi\r\nEND\r\n";
    for cut in 0..21 {
        assert_eq!(P.parse_line(&wire[..cut]), Ok(None), "cut {cut}");
    }
    let (line, used) = P.parse_line(wire).unwrap().unwrap();
    assert_eq!(
        line,
        ReplyLine::Value {
            key: b"/hit.jpg",
            flags: 0,
            len: 19,
            cas: None
        }
    );
    assert_eq!((used, line.data_len()), (21, Some(19)));
    let rest = &wire[used + 19..];
    assert_eq!(P.parse_trailer(&rest[..1]), Ok(None));
    assert_eq!(P.parse_trailer(rest), Ok(Some(2)));
    assert_eq!(P.parse_line(&rest[2..]).unwrap().unwrap().0, ReplyLine::End);
    assert_eq!(
        P.parse_trailer(b"XY"),
        Err(ResponseError::BadDataTerminator)
    );
}

#[test]
fn whole_replies() {
    let wire = b"VALUE a 1 1\r\n1\r\nVALUE b 2 2 7\r\n22\r\nEND\r\nSTORED\r\n";
    let (resp, used) = P.parse_response(wire).unwrap().unwrap();
    assert_eq!(
        resp,
        Response::Values(vec![
            Value {
                key: b"a",
                flags: 1,
                cas: None,
                data: b"1"
            },
            Value {
                key: b"b",
                flags: 2,
                cas: Some(7),
                data: b"22"
            },
        ])
    );
    assert_eq!(
        P.parse_response(&wire[used..]).unwrap().unwrap().0,
        Response::Line(ReplyLine::Stored)
    );
    for cut in 0..used {
        assert_eq!(P.parse_response(&wire[..cut]), Ok(None), "cut {cut}");
    }
    let (resp, _) = P
        .parse_response(b"VA 3 f5 s3 t-1 kmk c20\r\nabc\r\n")
        .unwrap()
        .unwrap();
    let Response::MetaValue { reply, data } = resp else {
        panic!()
    };
    assert_eq!((reply.status, data), (MetaStatus::Value(3), &b"abc"[..]));
    assert_eq!(
        reply.flags[2],
        MetaFlag {
            flag: b't',
            token: b"-1"
        }
    );
    assert_eq!(
        (
            reply.client_flags(),
            reply.size(),
            reply.ttl(),
            reply.key(),
            reply.cas()
        ),
        (Some(5), Some(3), Some(-1), Some(&b"mk"[..]), Some(20))
    );
    let (line, _) = P.parse_line(b"HD t299 c62 X W O77\r\n").unwrap().unwrap();
    let ReplyLine::Meta(hd) = line else { panic!() };
    assert_eq!(
        (hd.ttl(), hd.stale(), hd.won(), hd.token_sent(), hd.opaque()),
        (Some(299), true, true, false, Some(&b"77"[..]))
    );
    let (resp, _) = P
        .parse_response(b"STAT pid 42\r\nSTAT version 1.6.18\r\nEND\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(
        resp,
        Response::Stats(vec![(&b"pid"[..], &b"42"[..]), (b"version", b"1.6.18")])
    );
    // A space-padded incr result (memcached pads shrinking numbers).
    assert_eq!(
        P.parse_line(b"12  \r\n").unwrap().unwrap().0,
        ReplyLine::Number(12)
    );
    assert_eq!(
        P.parse_line(b"CLIENT_ERROR bad data chunk\r\n")
            .unwrap()
            .unwrap()
            .0,
        ReplyLine::ClientError(b"bad data chunk")
    );
    assert_eq!(
        P.parse_line(b"EN\r\n").unwrap().unwrap().0,
        ReplyLine::Meta(MetaReply {
            status: MetaStatus::Miss,
            flags: vec![]
        })
    );
}

#[test]
fn invalid_replies() {
    let bad: &[(&[u8], ResponseError)] = &[
        (b"END\n", ResponseError::BadLineEnd),
        (b"\n", ResponseError::BadLineEnd),
        (b"end\r\n", ResponseError::Unknown),
        (
            b"VALUE k 0 -5\r\n",
            ResponseError::Malformed { what: "VALUE" },
        ),
        (
            b"VALUE k  0 5\r\n",
            ResponseError::Malformed { what: "VALUE" },
        ),
        (
            b"VALUE k 0 5 1 2\r\n",
            ResponseError::Malformed { what: "VALUE" },
        ),
        (
            b"VALUE k 4294967296 5\r\n",
            ResponseError::Malformed { what: "VALUE" },
        ),
        (
            b"VALUE k 0 99999999999999\r\n",
            ResponseError::ValueTooLarge {
                len: 99999999999999,
                max: 1 << 30,
            },
        ),
        (b"VA\r\n", ResponseError::Malformed { what: "VA" }),
        (
            b"HD  c1\r\n",
            ResponseError::Malformed { what: "meta flags" },
        ),
        (b"1x\r\n", ResponseError::Malformed { what: "incr/decr" }),
        (b"STAT x\r\n", ResponseError::Malformed { what: "STAT" }),
    ];
    for (wire, want) in bad {
        assert_eq!(
            P.parse_line(wire).err(),
            Some(*want),
            "{:?}",
            String::from_utf8_lossy(wire)
        );
    }
    assert_eq!(
        P.parse_response(b"VALUE a 0 1\r\nx\r\nSTORED\r\n"),
        Err(ResponseError::Unexpected)
    );
    assert_eq!(
        P.parse_response(b"VALUE a 0 1\r\nxyz"),
        Err(ResponseError::BadDataTerminator)
    );
    let small = ResponseParser {
        max_line: 8,
        ..ResponseParser::new()
    };
    assert_eq!(
        small.parse_line(b"0123456789"),
        Err(ResponseError::LineTooLong { max: 8 })
    );
    assert_eq!(small.parse_line(b"012345678"), Ok(None));
}

#[test]
fn header_encoder_matches_memcached() {
    let mut out = Vec::new();
    encode_value_header(&mut out, b"g", 5, 2, Some(4));
    encode_value_header(&mut out, b"/hit.jpg", 0, 19, None);
    assert_eq!(out, b"VALUE g 5 2 4\r\nVALUE /hit.jpg 0 19\r\n");
    let mut out = Vec::new();
    ReplyLine::Meta(MetaReply {
        status: MetaStatus::Header,
        flags: vec![
            MetaFlag {
                flag: b'c',
                token: b"55",
            },
            MetaFlag {
                flag: b'k',
                token: b"mk2",
            },
        ],
    })
    .encode(&mut out);
    ReplyLine::Number(u64::MAX).encode(&mut out);
    ReplyLine::Version(b"1.6.18").encode(&mut out);
    assert_eq!(
        out,
        b"HD c55 kmk2\r\n18446744073709551615\r\nVERSION 1.6.18\r\n"
    );
}
