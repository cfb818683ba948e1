//! Fuzz the memcached codec: the server-side request decoder (fed whole and
//! in two pieces) and the client-side reply parser. Besides "never panic",
//! it checks that whatever parses re-encodes to something that parses back to
//! the same value, and that splitting the input does not change the outcome.
#![no_main]

use fdfs_proto::memcached::{
    parse_request, Action, Head, Limits, Parsed, RequestDecoder, ResponseParser,
};
use libfuzzer_sys::fuzz_target;

/// Decodes `input`, fed as two pieces cut at `split`, and returns the
/// events as text with the absolute offsets at which they ended.
fn decode_all(input: &[u8], split: usize) -> Vec<String> {
    let limits = Limits::memcached();
    let mut dec = RequestDecoder::new(limits.clone());
    let mut events = Vec::new();
    let mut start = 0;
    for fed in [split.min(input.len()), input.len()] {
        loop {
            if start > fed {
                break;
            }
            match dec.decode(&input[start..fed]) {
                Parsed::Incomplete => break,
                Parsed::Swallowed { consumed } => {
                    assert!(consumed > 0);
                    start += consumed;
                }
                Parsed::Request { request, consumed } => {
                    assert!(consumed > 0);
                    let again = request.to_bytes();
                    match parse_request(&again, &limits) {
                        Parsed::Request {
                            request: r2,
                            consumed: c2,
                        } => {
                            assert_eq!(r2, request);
                            assert_eq!(c2, again.len());
                        }
                        other => panic!("{request:?} re-encoded as {again:?} gave {other:?}"),
                    }
                    start += consumed;
                    events.push(format!("{start} {request:?}"));
                }
                Parsed::Error { error, consumed } => {
                    assert!(!matches!(error.action, Action::Swallow(_)));
                    start += consumed;
                    events.push(format!("{start} {error:?}"));
                    if error.action == Action::Close {
                        return events;
                    }
                    assert!(consumed > 0);
                }
            }
        }
    }
    events
}

/// The same as [`decode_all`] on the whole input, but taking data blocks
/// the streaming way (`decode_head`, the caller moves the bytes).
fn decode_streaming(input: &[u8]) -> Vec<String> {
    let mut dec = RequestDecoder::new(Limits::memcached());
    let mut events = Vec::new();
    let mut start = 0;
    loop {
        match dec.decode_head(&input[start..]) {
            Head::Data(pd) => {
                let begin = start + pd.consumed;
                let end = begin + pd.data_len;
                if input.len() < end + 2 {
                    return events;
                }
                start = end + 2;
                match pd.check_trailer([input[end], input[end + 1]]) {
                    Ok(()) => {
                        let request = pd.with_data(&input[begin..end]);
                        events.push(format!("{start} {request:?}"));
                    }
                    Err(error) => events.push(format!("{start} {error:?}")),
                }
            }
            Head::Done(Parsed::Incomplete) => return events,
            Head::Done(Parsed::Swallowed { consumed }) => start += consumed,
            Head::Done(Parsed::Request { request, consumed }) => {
                start += consumed;
                events.push(format!("{start} {request:?}"));
            }
            Head::Done(Parsed::Error { error, consumed }) => {
                start += consumed;
                events.push(format!("{start} {error:?}"));
                if error.action == Action::Close {
                    return events;
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // The first byte chooses where to split the rest.
    let Some((&cut, input)) = data.split_first() else {
        return;
    };
    let split = usize::from(cut) * input.len() / 255;
    // Lines longer than memcached's no-newline limit legitimately depend on
    // how they arrive, so only short-lined inputs must agree.
    let whole = decode_all(input, input.len());
    let pieces = decode_all(input, split);
    let short_lines = input.split(|&b| b == b'\n').all(|l| l.len() <= 2048);
    if short_lines {
        assert_eq!(whole, pieces);
    }
    assert_eq!(whole, decode_streaming(input));

    let parser = ResponseParser::new();
    let mut pos = 0;
    while let Ok(Some((resp, used))) = parser.parse_response(&input[pos..]) {
        assert!(used > 0);
        let again = resp.to_bytes();
        let (r2, u2) = parser
            .parse_response(&again)
            .expect("re-encoded reply parses")
            .expect("re-encoded reply is complete");
        assert_eq!(r2, resp);
        assert_eq!(u2, again.len());
        pos += used;
    }
    let _ = parser.parse_line(input);
});
