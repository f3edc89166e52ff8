//! Money: an exact decimal amount in an ISO 4217 currency. Shared by currency
//! custom fields today and by deals, line items and orders next; never a float.

use rust_decimal::Decimal;

/// An amount of money: an exact decimal and an ISO 4217 code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Money {
    /// The amount, in major units (12.50).
    pub amount: Decimal,
    /// ISO 4217 code, upper case.
    pub currency: String,
}

/// Whether `code` is an active ISO 4217 currency code.
pub fn is_currency(code: &str) -> bool {
    const CODES: &str = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND \
        BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP \
        ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR \
        ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA \
        MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP \
        PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP \
        SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG \
        XOF XPF YER ZAR ZMW ZWG";
    code.len() == 3 && CODES.split_whitespace().any(|known| known == code)
}
