//! The payments settings as the console shows them.

#[allow(unused_imports)] // until this category is described
use super::{key, CategoryDoc, Effect::*, Input::*, Item, Section};
use crate::settings::Category;

pub(super) static DOC: CategoryDoc = CategoryDoc {
    category: Category::Payments,
    title: "Payments",
    summary: "",
    sections: &[Section {
        title: "Payments",
        keys: &[],
    }],
};
