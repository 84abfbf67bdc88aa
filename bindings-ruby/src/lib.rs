//! placeholder: the ruby binding is being written
