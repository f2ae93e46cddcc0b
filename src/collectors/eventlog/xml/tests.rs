use super::*;

const EVENT: &str = r#"<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="PasswordResetService" /><EventID Qualifiers="0">31001</EventID><Level>4</Level><Task>0</Task><Keywords>0x80000000000000</Keywords><TimeCreated SystemTime="2026-11-03T08:15:02.1234567Z" /><EventRecordID>812</EventRecordID><Channel>Application</Channel><Computer>AADC01.contoso.com</Computer><Security /></System><EventData><Data>TrackingId: 3f369fe9-c121-4450-8661-82b095bdbf0a, PasswordResetStart &amp; more</Data></EventData></Event>"#;

#[test]
fn parses_a_classic_event() {
    let r = parse_event(EVENT).unwrap();
    assert_eq!(r.provider, "PasswordResetService");
    assert_eq!(r.event_id, Some(31001));
    assert_eq!(r.qualifiers, Some(0));
    assert_eq!(r.level, Some(4));
    assert_eq!(r.event_record_id, Some(812));
    assert_eq!(r.computer, "AADC01.contoso.com");
    assert_eq!(r.time_created, Some(1_793_693_702_123_456));
    assert_eq!(
        r.data,
        vec![(None, "TrackingId: 3f369fe9-c121-4450-8661-82b095bdbf0a, PasswordResetStart & more".into())]
    );
    assert_eq!(r.facts().tracking_id.as_deref(), Some("3f369fe9-c121-4450-8661-82b095bdbf0a"));
}

#[test]
fn a_filter_stops_after_system() {
    let kept = parse_event_filtered(EVENT, &|r| r.event_id == Some(31001)).unwrap();
    assert_eq!(kept.unwrap().data.len(), 1);
    assert_eq!(parse_event_filtered(EVENT, &|r| r.provider == "ADSync").unwrap(), None);
}

#[test]
fn splits_with_and_without_root_and_reports_a_cut_off_tail() {
    let doc = format!("<?xml version=\"1.0\"?>\r\n<Events>\r\n{EVENT}\r\n{EVENT}</Events>");
    let mut s = XmlSplitter::new(doc.as_bytes());
    let a = s.next_unit().unwrap().unwrap();
    assert_eq!(a.line, 3);
    assert!(s.next_unit().unwrap().is_ok());
    assert!(s.next_unit().is_none());
    let cut = format!("{EVENT}{}", &EVENT[..100]);
    let mut s = XmlSplitter::new(cut.as_bytes());
    assert!(s.next_unit().unwrap().is_ok());
    let (unit, reason) = s.next_unit().unwrap().unwrap_err();
    assert_eq!(unit.offset, EVENT.len() as u64);
    assert!(reason.contains("ends inside"));
}

#[test]
fn the_fast_scanner_and_the_general_parser_agree() {
    let cases = [
        EVENT.to_string(),
        r#"<?xml version="1.0"?><Event xmlns='x'><System><Provider Name='A &amp; B'/><EventID>4724</EventID><TimeCreated SystemTime='2026-11-03T08:15:02Z'/><Channel>Security</Channel><Computer>DC</Computer></System><EventData><Data Name='TargetUserName'>x&#233;&lt;</Data><Data Name='Empty'/><Binary>0A0B</Binary></EventData><RenderingInfo Culture='en-US'><Message>Hi &quot;there&quot;</Message></RenderingInfo></Event>"#.to_string(),
        "<Event><System><Provider Name='a\r\n\tb'/><EventID>7</EventID><TimeCreated SystemTime='2026-11-03T08:15:02Z'/></System><EventData><Data>line1\r\nline2\rline3&#13;</Data></EventData></Event>".to_string(),
        r#"<ns:Event xmlns:ns="x"><ns:System><ns:Provider Name="P"/><ns:EventID>1</ns:EventID><ns:TimeCreated SystemTime="2026-11-03T08:15:02Z"/></ns:System><UserData><EventXML><Param>v</Param></EventXML></UserData></ns:Event>"#.to_string(),
    ];
    for c in &cases {
        let fast = fast::parse(c, None).flatten().unwrap_or_else(|| panic!("fast path declined {c}"));
        assert_eq!(fast, parse_event_general(c).unwrap(), "{c}");
    }
    // Constructs the scanner leaves to the general parser.
    for c in ["<Event><![CDATA[x]]></Event>", "<Event><!-- c --></Event>", "<Event><System></Event>"] {
        assert!(fast::parse(c, None).is_none(), "{c}");
    }
}

#[test]
fn bad_xml_is_an_error_not_a_panic() {
    for bad in ["<Event><System></Event>", "<Event><System><EventID>x</EventID></System></Event>", "<Foo/>"] {
        assert!(parse_event(bad).is_err(), "{bad}");
    }
}
