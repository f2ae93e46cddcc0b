//! The BinXML format's token and value-type numbers (MS-EVEN6 §2.2.12 and §2.2.18): a leaf
//! module shared by the BinXML reader (`collectors::eventlog::binxml`) and the sample's EVTX
//! writer (`sample::evtx_writer`), so neither imports the other.

/// BinXML tokens (MS-EVEN6 §2.2.12).
pub(crate) mod tok {
    pub(crate) const EOF: u8 = 0x00;
    pub(crate) const OPEN_START: u8 = 0x01;
    pub(crate) const CLOSE_START: u8 = 0x02;
    pub(crate) const CLOSE_EMPTY: u8 = 0x03;
    pub(crate) const END_ELEMENT: u8 = 0x04;
    pub(crate) const VALUE: u8 = 0x05;
    pub(crate) const ATTRIBUTE: u8 = 0x06;
    pub(crate) const CHAR_REF: u8 = 0x08;
    pub(crate) const TEMPLATE_INSTANCE: u8 = 0x0c;
    pub(crate) const NORMAL_SUBSTITUTION: u8 = 0x0d;
    pub(crate) const OPTIONAL_SUBSTITUTION: u8 = 0x0e;
    pub(crate) const FRAGMENT_HEADER: u8 = 0x0f;
    /// The "more follows" bit of element, value, attribute and reference tokens.
    pub(crate) const MORE: u8 = 0x40;
}

/// Substitution value types (MS-EVEN6 §2.2.18).
pub(crate) mod vt {
    pub(crate) const NULL: u8 = 0x00;
    pub(crate) const STRING: u8 = 0x01;
    pub(crate) const INT8: u8 = 0x03;
    pub(crate) const UINT8: u8 = 0x04;
    pub(crate) const INT16: u8 = 0x05;
    pub(crate) const UINT16: u8 = 0x06;
    pub(crate) const INT32: u8 = 0x07;
    pub(crate) const UINT32: u8 = 0x08;
    pub(crate) const INT64: u8 = 0x09;
    pub(crate) const UINT64: u8 = 0x0a;
    pub(crate) const BOOL: u8 = 0x0d;
    pub(crate) const BINARY: u8 = 0x0e;
    pub(crate) const GUID: u8 = 0x0f;
    pub(crate) const SIZE_T: u8 = 0x10;
    pub(crate) const FILETIME: u8 = 0x11;
    pub(crate) const SID: u8 = 0x13;
    pub(crate) const HEX_INT32: u8 = 0x14;
    pub(crate) const HEX_INT64: u8 = 0x15;
    pub(crate) const BIN_XML: u8 = 0x21;
    pub(crate) const STRING_ARRAY: u8 = 0x81;
}
