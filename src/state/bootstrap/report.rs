//! What bootstrap says about each setting, as soon as it is settled, so that a run stopped
//! half-way has said what it did.

use serde::Serialize;

/// What bootstrap did about one setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Action {
    Created,
    Set,
    Kept,
}

impl Action {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Set => "set",
            Self::Kept => "kept",
        }
    }

    /// `Kept` when the setting already held, else `Set`.
    pub(super) fn unless(holds: bool) -> Self {
        if holds { Self::Kept } else { Self::Set }
    }
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct Setting {
    pub name: &'static str,
    pub action: Action,
    pub value: String,
}

/// The settings reported so far, each also handed to the caller's `each` on the spot.
pub(super) struct Report<'a> {
    settings: Vec<Setting>,
    each: &'a mut dyn FnMut(&Setting),
}

impl<'a> Report<'a> {
    pub(super) fn new(each: &'a mut dyn FnMut(&Setting)) -> Self {
        Self {
            settings: Vec::new(),
            each,
        }
    }

    pub(super) fn add(&mut self, name: &'static str, action: Action, value: impl Into<String>) {
        let setting = Setting {
            name,
            action,
            value: value.into(),
        };
        (self.each)(&setting);
        self.settings.push(setting);
    }

    pub(super) fn into_settings(self) -> Vec<Setting> {
        self.settings
    }
}
