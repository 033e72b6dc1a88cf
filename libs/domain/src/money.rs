//! Money in integer øre, and the price of an order.
//!
//! Rounding rule: VAT is computed once, on the order's net total, and rounded
//! half up to a whole øre. One card at 132.90 NOK + 25 % is 132.90 + 33.23 =
//! 166.13 NOK (33.225 rounds up); two cards are 265.80 + 66.45 = 332.25 NOK.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount must not be negative")]
    Negative,
    #[error("amount is too large")]
    Overflow,
    #[error("VAT rate must be between 0 and 10000 basis points")]
    VatRate,
}

/// An amount in øre (1/100 NOK). Never negative here: the platform only
/// prices orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money {
    ore: i64,
}

impl Money {
    pub fn from_ore(ore: i64) -> Result<Self, MoneyError> {
        if ore < 0 {
            return Err(MoneyError::Negative);
        }
        Ok(Self { ore })
    }

    pub const fn ore(self) -> i64 {
        self.ore
    }

    fn checked_mul(self, factor: i64) -> Result<Self, MoneyError> {
        self.ore
            .checked_mul(factor)
            .map(|ore| Self { ore })
            .ok_or(MoneyError::Overflow)
    }

    fn checked_add(self, other: Self) -> Result<Self, MoneyError> {
        self.ore
            .checked_add(other.ore)
            .map(|ore| Self { ore })
            .ok_or(MoneyError::Overflow)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02} NOK", self.ore / 100, self.ore % 100)
    }
}

/// A VAT rate in basis points: 2500 is 25 %.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VatRate(u32);

impl VatRate {
    pub fn from_basis_points(basis_points: u32) -> Result<Self, MoneyError> {
        if basis_points > 10_000 {
            return Err(MoneyError::VatRate);
        }
        Ok(Self(basis_points))
    }

    pub const fn basis_points(self) -> u32 {
        self.0
    }

    /// VAT on `net`, rounded half up to a whole øre.
    fn of(self, net: Money) -> Result<Money, MoneyError> {
        let scaled = i128::from(net.ore) * i128::from(self.0) + 5_000;
        let ore = i64::try_from(scaled / 10_000).map_err(|_| MoneyError::Overflow)?;
        Ok(Money { ore })
    }
}

/// What one card costs before VAT, and the VAT rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriceList {
    pub unit_net: Money,
    pub vat_rate: VatRate,
}

impl PriceList {
    /// 132.90 NOK per card + 25 % VAT.
    pub const STANDARD: Self = Self {
        unit_net: Money { ore: 13_290 },
        vat_rate: VatRate(2_500),
    };

    pub fn price(&self, quantity: u32) -> Result<Price, MoneyError> {
        let net = self.unit_net.checked_mul(i64::from(quantity))?;
        let vat = self.vat_rate.of(net)?;
        Ok(Price {
            unit_net: self.unit_net,
            quantity,
            net,
            vat_rate: self.vat_rate,
            vat,
            gross: net.checked_add(vat)?,
        })
    }
}

/// The price of `quantity` cards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Price {
    pub unit_net: Money,
    pub quantity: u32,
    pub net: Money,
    pub vat_rate: VatRate,
    pub vat: Money,
    pub gross: Money,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn standard_price_of_one_and_two_cards() {
        let one = PriceList::STANDARD.price(1).expect("price");
        assert_eq!(
            (one.net.ore(), one.vat.ore(), one.gross.ore()),
            (13_290, 3_323, 16_613)
        );
        let two = PriceList::STANDARD.price(2).expect("price");
        assert_eq!(
            (two.net.ore(), two.vat.ore(), two.gross.ore()),
            (26_580, 6_645, 33_225)
        );
        assert_eq!(two.gross.to_string(), "332.25 NOK");
    }

    #[test]
    fn no_cards_cost_nothing() {
        let zero = PriceList::STANDARD.price(0).expect("price");
        assert_eq!(zero.gross, Money::default());
    }

    #[test]
    fn bad_amounts_are_refused() {
        assert_eq!(Money::from_ore(-1), Err(MoneyError::Negative));
        assert_eq!(VatRate::from_basis_points(10_001), Err(MoneyError::VatRate));
        let huge = PriceList {
            unit_net: Money::from_ore(i64::MAX).expect("non-negative"),
            vat_rate: VatRate::from_basis_points(2_500).expect("rate"),
        };
        assert_eq!(huge.price(2), Err(MoneyError::Overflow));
    }

    proptest! {
        #[test]
        fn vat_is_within_half_an_ore_of_the_exact_amount(unit in 0i64..10_000_000, quantity in 0u32..10_000, rate in 0u32..=10_000) {
            let list = PriceList {
                unit_net: Money::from_ore(unit).expect("non-negative"),
                vat_rate: VatRate::from_basis_points(rate).expect("rate"),
            };
            let price = list.price(quantity).expect("fits");
            let exact = i128::from(price.net.ore()) * i128::from(rate);
            let ours = i128::from(price.vat.ore()) * 10_000;
            // Half up: ours - exact lies in (-5000, 5000]; exactly half rounds up.
            prop_assert!(ours - exact > -5_000 && ours - exact <= 5_000);
            prop_assert_eq!(price.gross.ore(), price.net.ore() + price.vat.ore());
        }
    }
}
