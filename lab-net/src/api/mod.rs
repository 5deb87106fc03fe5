//! Clients of the network services lab-net drives.
