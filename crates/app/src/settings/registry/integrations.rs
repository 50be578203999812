//! The integrations settings as the console shows them.

#[allow(unused_imports)] // until this category is described
use super::{key, CategoryDoc, Effect::*, Input::*, Item, Section};
use crate::settings::Category;

pub(super) static DOC: CategoryDoc = CategoryDoc {
    category: Category::Integrations,
    title: "Integrations",
    summary: "",
    sections: &[Section {
        title: "Integrations",
        keys: &[],
    }],
};
