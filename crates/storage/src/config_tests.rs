//! Unit and property tests of `config.rs`.

use super::*;

const MIN: &str = "group_name = \"group1\"\nbase_path = \"/tmp/x\"\n";

#[test]
fn defaults() {
    let c = Config::parse_str(MIN).unwrap();
    assert_eq!(c.listen.port(), 23000);
    assert_eq!(c.store_paths, vec![PathBuf::from("/tmp/x")]);
    assert_eq!(c.subdir_count, 256);
    assert_eq!(
        c.distribute,
        DistributeMode::RoundRobin { rotate_count: 100 }
    );
    assert_eq!(c.max_request_body, 256 * 1024);
    assert!(c.host_allowed("10.1.2.3".parse().unwrap()));
}

#[test]
fn rejects_bad_values() {
    for extra in [
        "subdir_count_per_path = 0",
        "subdir_count_per_path = 257",
        "file_distribute_path_mode = 2",
        "reserved_storage_space = \"120%\"",
        "reserved_storage_space = \"12Q\"",
        "tracker_servers = [\"nohost\"]",
        "allow_hosts = [\"10.0.0.0/33\"]",
        "unknown_key = 1",
        "[limits]\nmax_request_body = \"10\"",
        "[sync]\ndurability = \"maybe\"",
    ] {
        assert!(
            Config::parse_str(&format!("{MIN}{extra}\n")).is_err(),
            "{extra}"
        );
    }
    assert!(Config::parse_str("group_name = \"group/1\"\nbase_path = \"/x\"").is_err());
    assert!(Config::parse_str("group_name = \"g\"\nbase_path = \"rel\"").is_err());
}

#[test]
fn sizes_and_reserve() {
    assert_eq!(parse_bytes("64K"), Ok(65536));
    assert_eq!(parse_bytes("2GB"), Ok(2 << 30));
    assert_eq!(parse_bytes("17"), Ok(17));
    assert!(parse_bytes("x").is_err());
    assert!(parse_bytes("99999999999T").is_err());
    assert_eq!(Reserve::parse("10%").unwrap().bytes_for_total(1000), 100);
    assert_eq!(Reserve::parse("1M").unwrap().bytes_for_total(5), 1 << 20);
}

#[test]
fn host_rules() {
    let r = HostRule::parse("10.0.0.0/8").unwrap();
    assert!(r.matches("10.200.1.1".parse().unwrap()));
    assert!(!r.matches("11.0.0.1".parse().unwrap()));
    assert!(r.matches("::ffff:10.0.0.1".parse().unwrap()));
    let one = HostRule::parse("127.0.0.1").unwrap();
    assert!(one.matches("127.0.0.1".parse().unwrap()));
    assert!(!one.matches("127.0.0.2".parse().unwrap()));
    assert!(HostRule::parse("0.0.0.0/0")
        .unwrap()
        .matches("1.2.3.4".parse().unwrap()));
}

proptest::proptest! {
    #[test]
    fn parse_bytes_never_panics_and_round_trips(s in "\\PC{0,24}", n in 0u64..(1 << 30), unit in 0usize..4) {
        let _ = parse_bytes(&s);
        let _ = Reserve::parse(&s);
        let _ = HostRule::parse(&s);
        let (suffix, mul) = [("", 1u64), ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30)][unit];
        proptest::prop_assert_eq!(parse_bytes(&format!("{n}{suffix}")), Ok(n * mul));
    }

    #[test]
    fn any_toml_text_is_refused_or_valid(text in "\\PC{0,200}") {
        if let Ok(c) = Config::parse_str(&text) {
            proptest::prop_assert!((1..=256).contains(&c.subdir_count));
            proptest::prop_assert!(!c.store_paths.is_empty());
        }
    }

    #[test]
    fn cidr_rules_match_their_own_network(a in proptest::num::u32::ANY, prefix in 0u8..=32, b in proptest::num::u32::ANY) {
        let ip = std::net::Ipv4Addr::from(a);
        let rule = HostRule::parse(&format!("{ip}/{prefix}")).unwrap();
        proptest::prop_assert!(rule.matches(IpAddr::V4(ip)));
        let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
        let other = std::net::Ipv4Addr::from(b);
        proptest::prop_assert_eq!(rule.matches(IpAddr::V4(other)), a & mask == b & mask);
    }
}
