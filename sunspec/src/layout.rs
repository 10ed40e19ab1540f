//! SunSpec point offsets and "not implemented" sentinels of models 1, 701, 702, 704 and 802.
//!
//! Generated once from the SunSpec model definitions (the JSON files shipped with pysunspec2
//! 1.3.7) and checked in; offsets count from the model's `ID` register. The conformance test
//! with pysunspec2 checks them against the reference decoder.

/// Points of model 1.
#[allow(dead_code, non_upper_case_globals)]
pub mod m1 {
    /// Model id.
    pub const MODEL_ID: u16 = 1;
    /// Registers in the model, header included (`L` + 2).
    pub const LEN: u16 = 68;
    /// `ID` (uint16, 1 register).
    pub const ID: u16 = 0;
    /// `L` (uint16, 1 register).
    pub const L: u16 = 1;
    /// `Mn` (string, 16 registers).
    pub const Mn: u16 = 2;
    /// `Md` (string, 16 registers).
    pub const Md: u16 = 18;
    /// `Opt` (string, 8 registers).
    pub const Opt: u16 = 34;
    /// `Vr` (string, 8 registers).
    pub const Vr: u16 = 42;
    /// `SN` (string, 16 registers).
    pub const SN: u16 = 50;
    /// `DA` (uint16, 1 register).
    pub const DA: u16 = 66;
    /// `Pad` (pad, 1 register).
    pub const Pad: u16 = 67;
    /// `(offset, words)` of every point whose "not implemented" value is not all `0xFFFF`.
    pub const NON_FFFF_SENTINELS: &[(u16, &[u16])] = &[
        (
            2,
            &[
                0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0,
            ],
        ),
        (
            18,
            &[
                0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0,
            ],
        ),
        (34, &[0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0]),
        (42, &[0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0]),
        (
            50,
            &[
                0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0,
            ],
        ),
        (67, &[0x8000]),
    ];
}

/// Points of model 701.
#[allow(dead_code, non_upper_case_globals)]
pub mod m701 {
    /// Model id.
    pub const MODEL_ID: u16 = 701;
    /// Registers in the model, header included (`L` + 2).
    pub const LEN: u16 = 155;
    /// `ID` (uint16, 1 register).
    pub const ID: u16 = 0;
    /// `L` (uint16, 1 register).
    pub const L: u16 = 1;
    /// `ACType` (enum16, 1 register).
    pub const ACType: u16 = 2;
    /// `St` (enum16, 1 register).
    pub const St: u16 = 3;
    /// `InvSt` (enum16, 1 register).
    pub const InvSt: u16 = 4;
    /// `ConnSt` (enum16, 1 register).
    pub const ConnSt: u16 = 5;
    /// `Alrm` (bitfield32, 2 registers).
    pub const Alrm: u16 = 6;
    /// `DERMode` (bitfield32, 2 registers).
    pub const DERMode: u16 = 8;
    /// `W` (int16, 1 register).
    pub const W: u16 = 10;
    /// `VA` (int16, 1 register).
    pub const VA: u16 = 11;
    /// `Var` (int16, 1 register).
    pub const Var: u16 = 12;
    /// `PF` (int16, 1 register).
    pub const PF: u16 = 13;
    /// `A` (int16, 1 register).
    pub const A: u16 = 14;
    /// `LLV` (uint16, 1 register).
    pub const LLV: u16 = 15;
    /// `LNV` (uint16, 1 register).
    pub const LNV: u16 = 16;
    /// `Hz` (uint32, 2 registers).
    pub const Hz: u16 = 17;
    /// `TotWhInj` (uint64, 4 registers).
    pub const TotWhInj: u16 = 19;
    /// `TotWhAbs` (uint64, 4 registers).
    pub const TotWhAbs: u16 = 23;
    /// `TotVarhInj` (uint64, 4 registers).
    pub const TotVarhInj: u16 = 27;
    /// `TotVarhAbs` (uint64, 4 registers).
    pub const TotVarhAbs: u16 = 31;
    /// `TmpAmb` (int16, 1 register).
    pub const TmpAmb: u16 = 35;
    /// `TmpCab` (int16, 1 register).
    pub const TmpCab: u16 = 36;
    /// `TmpSnk` (int16, 1 register).
    pub const TmpSnk: u16 = 37;
    /// `TmpTrns` (int16, 1 register).
    pub const TmpTrns: u16 = 38;
    /// `TmpSw` (int16, 1 register).
    pub const TmpSw: u16 = 39;
    /// `TmpOt` (int16, 1 register).
    pub const TmpOt: u16 = 40;
    /// `WL1` (int16, 1 register).
    pub const WL1: u16 = 41;
    /// `VAL1` (int16, 1 register).
    pub const VAL1: u16 = 42;
    /// `VarL1` (int16, 1 register).
    pub const VarL1: u16 = 43;
    /// `PFL1` (int16, 1 register).
    pub const PFL1: u16 = 44;
    /// `AL1` (int16, 1 register).
    pub const AL1: u16 = 45;
    /// `VL1L2` (uint16, 1 register).
    pub const VL1L2: u16 = 46;
    /// `VL1` (uint16, 1 register).
    pub const VL1: u16 = 47;
    /// `TotWhInjL1` (uint64, 4 registers).
    pub const TotWhInjL1: u16 = 48;
    /// `TotWhAbsL1` (uint64, 4 registers).
    pub const TotWhAbsL1: u16 = 52;
    /// `TotVarhInjL1` (uint64, 4 registers).
    pub const TotVarhInjL1: u16 = 56;
    /// `TotVarhAbsL1` (uint64, 4 registers).
    pub const TotVarhAbsL1: u16 = 60;
    /// `WL2` (int16, 1 register).
    pub const WL2: u16 = 64;
    /// `VAL2` (int16, 1 register).
    pub const VAL2: u16 = 65;
    /// `VarL2` (int16, 1 register).
    pub const VarL2: u16 = 66;
    /// `PFL2` (int16, 1 register).
    pub const PFL2: u16 = 67;
    /// `AL2` (int16, 1 register).
    pub const AL2: u16 = 68;
    /// `VL2L3` (uint16, 1 register).
    pub const VL2L3: u16 = 69;
    /// `VL2` (uint16, 1 register).
    pub const VL2: u16 = 70;
    /// `TotWhInjL2` (uint64, 4 registers).
    pub const TotWhInjL2: u16 = 71;
    /// `TotWhAbsL2` (uint64, 4 registers).
    pub const TotWhAbsL2: u16 = 75;
    /// `TotVarhInjL2` (uint64, 4 registers).
    pub const TotVarhInjL2: u16 = 79;
    /// `TotVarhAbsL2` (uint64, 4 registers).
    pub const TotVarhAbsL2: u16 = 83;
    /// `WL3` (int16, 1 register).
    pub const WL3: u16 = 87;
    /// `VAL3` (int16, 1 register).
    pub const VAL3: u16 = 88;
    /// `VarL3` (int16, 1 register).
    pub const VarL3: u16 = 89;
    /// `PFL3` (int16, 1 register).
    pub const PFL3: u16 = 90;
    /// `AL3` (int16, 1 register).
    pub const AL3: u16 = 91;
    /// `VL3L1` (uint16, 1 register).
    pub const VL3L1: u16 = 92;
    /// `VL3` (uint16, 1 register).
    pub const VL3: u16 = 93;
    /// `TotWhInjL3` (uint64, 4 registers).
    pub const TotWhInjL3: u16 = 94;
    /// `TotWhAbsL3` (uint64, 4 registers).
    pub const TotWhAbsL3: u16 = 98;
    /// `TotVarhInjL3` (uint64, 4 registers).
    pub const TotVarhInjL3: u16 = 102;
    /// `TotVarhAbsL3` (uint64, 4 registers).
    pub const TotVarhAbsL3: u16 = 106;
    /// `ThrotPct` (uint16, 1 register).
    pub const ThrotPct: u16 = 110;
    /// `ThrotSrc` (bitfield32, 2 registers).
    pub const ThrotSrc: u16 = 111;
    /// `A_SF` (sunssf, 1 register).
    pub const A_SF: u16 = 113;
    /// `V_SF` (sunssf, 1 register).
    pub const V_SF: u16 = 114;
    /// `Hz_SF` (sunssf, 1 register).
    pub const Hz_SF: u16 = 115;
    /// `W_SF` (sunssf, 1 register).
    pub const W_SF: u16 = 116;
    /// `PF_SF` (sunssf, 1 register).
    pub const PF_SF: u16 = 117;
    /// `VA_SF` (sunssf, 1 register).
    pub const VA_SF: u16 = 118;
    /// `Var_SF` (sunssf, 1 register).
    pub const Var_SF: u16 = 119;
    /// `TotWh_SF` (sunssf, 1 register).
    pub const TotWh_SF: u16 = 120;
    /// `TotVarh_SF` (sunssf, 1 register).
    pub const TotVarh_SF: u16 = 121;
    /// `Tmp_SF` (sunssf, 1 register).
    pub const Tmp_SF: u16 = 122;
    /// `MnAlrmInfo` (string, 32 registers).
    pub const MnAlrmInfo: u16 = 123;
    /// `(offset, words)` of every point whose "not implemented" value is not all `0xFFFF`.
    pub const NON_FFFF_SENTINELS: &[(u16, &[u16])] = &[
        (10, &[0x8000]),
        (11, &[0x8000]),
        (12, &[0x8000]),
        (13, &[0x8000]),
        (14, &[0x8000]),
        (35, &[0x8000]),
        (36, &[0x8000]),
        (37, &[0x8000]),
        (38, &[0x8000]),
        (39, &[0x8000]),
        (40, &[0x8000]),
        (41, &[0x8000]),
        (42, &[0x8000]),
        (43, &[0x8000]),
        (44, &[0x8000]),
        (45, &[0x8000]),
        (64, &[0x8000]),
        (65, &[0x8000]),
        (66, &[0x8000]),
        (67, &[0x8000]),
        (68, &[0x8000]),
        (87, &[0x8000]),
        (88, &[0x8000]),
        (89, &[0x8000]),
        (90, &[0x8000]),
        (91, &[0x8000]),
        (113, &[0x8000]),
        (114, &[0x8000]),
        (115, &[0x8000]),
        (116, &[0x8000]),
        (117, &[0x8000]),
        (118, &[0x8000]),
        (119, &[0x8000]),
        (120, &[0x8000]),
        (121, &[0x8000]),
        (122, &[0x8000]),
        (
            123,
            &[
                0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0,
                0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0,
            ],
        ),
    ];
}

/// Points of model 702.
#[allow(dead_code, non_upper_case_globals)]
pub mod m702 {
    /// Model id.
    pub const MODEL_ID: u16 = 702;
    /// Registers in the model, header included (`L` + 2).
    pub const LEN: u16 = 52;
    /// `ID` (uint16, 1 register).
    pub const ID: u16 = 0;
    /// `L` (uint16, 1 register).
    pub const L: u16 = 1;
    /// `WMaxRtg` (uint16, 1 register).
    pub const WMaxRtg: u16 = 2;
    /// `WOvrExtRtg` (uint16, 1 register).
    pub const WOvrExtRtg: u16 = 3;
    /// `WOvrExtRtgPF` (uint16, 1 register).
    pub const WOvrExtRtgPF: u16 = 4;
    /// `WUndExtRtg` (uint16, 1 register).
    pub const WUndExtRtg: u16 = 5;
    /// `WUndExtRtgPF` (uint16, 1 register).
    pub const WUndExtRtgPF: u16 = 6;
    /// `VAMaxRtg` (uint16, 1 register).
    pub const VAMaxRtg: u16 = 7;
    /// `VarMaxInjRtg` (uint16, 1 register).
    pub const VarMaxInjRtg: u16 = 8;
    /// `VarMaxAbsRtg` (uint16, 1 register).
    pub const VarMaxAbsRtg: u16 = 9;
    /// `WChaRteMaxRtg` (uint16, 1 register).
    pub const WChaRteMaxRtg: u16 = 10;
    /// `WDisChaRteMaxRtg` (uint16, 1 register).
    pub const WDisChaRteMaxRtg: u16 = 11;
    /// `VAChaRteMaxRtg` (uint16, 1 register).
    pub const VAChaRteMaxRtg: u16 = 12;
    /// `VADisChaRteMaxRtg` (uint16, 1 register).
    pub const VADisChaRteMaxRtg: u16 = 13;
    /// `VNomRtg` (uint16, 1 register).
    pub const VNomRtg: u16 = 14;
    /// `VMaxRtg` (uint16, 1 register).
    pub const VMaxRtg: u16 = 15;
    /// `VMinRtg` (uint16, 1 register).
    pub const VMinRtg: u16 = 16;
    /// `AMaxRtg` (uint16, 1 register).
    pub const AMaxRtg: u16 = 17;
    /// `PFOvrExtRtg` (uint16, 1 register).
    pub const PFOvrExtRtg: u16 = 18;
    /// `PFUndExtRtg` (uint16, 1 register).
    pub const PFUndExtRtg: u16 = 19;
    /// `ReactSusceptRtg` (uint16, 1 register).
    pub const ReactSusceptRtg: u16 = 20;
    /// `NorOpCatRtg` (enum16, 1 register).
    pub const NorOpCatRtg: u16 = 21;
    /// `AbnOpCatRtg` (enum16, 1 register).
    pub const AbnOpCatRtg: u16 = 22;
    /// `CtrlModes` (bitfield32, 2 registers).
    pub const CtrlModes: u16 = 23;
    /// `IntIslandCatRtg` (bitfield16, 1 register).
    pub const IntIslandCatRtg: u16 = 25;
    /// `WMax` (uint16, 1 register).
    pub const WMax: u16 = 26;
    /// `WMaxOvrExt` (uint16, 1 register).
    pub const WMaxOvrExt: u16 = 27;
    /// `WOvrExtPF` (uint16, 1 register).
    pub const WOvrExtPF: u16 = 28;
    /// `WMaxUndExt` (uint16, 1 register).
    pub const WMaxUndExt: u16 = 29;
    /// `WUndExtPF` (uint16, 1 register).
    pub const WUndExtPF: u16 = 30;
    /// `VAMax` (uint16, 1 register).
    pub const VAMax: u16 = 31;
    /// `VarMaxInj` (uint16, 1 register).
    pub const VarMaxInj: u16 = 32;
    /// `VarMaxAbs` (uint16, 1 register).
    pub const VarMaxAbs: u16 = 33;
    /// `WChaRteMax` (uint16, 1 register).
    pub const WChaRteMax: u16 = 34;
    /// `WDisChaRteMax` (uint16, 1 register).
    pub const WDisChaRteMax: u16 = 35;
    /// `VAChaRteMax` (uint16, 1 register).
    pub const VAChaRteMax: u16 = 36;
    /// `VADisChaRteMax` (uint16, 1 register).
    pub const VADisChaRteMax: u16 = 37;
    /// `VNom` (uint16, 1 register).
    pub const VNom: u16 = 38;
    /// `VMax` (uint16, 1 register).
    pub const VMax: u16 = 39;
    /// `VMin` (uint16, 1 register).
    pub const VMin: u16 = 40;
    /// `AMax` (uint16, 1 register).
    pub const AMax: u16 = 41;
    /// `PFOvrExt` (uint16, 1 register).
    pub const PFOvrExt: u16 = 42;
    /// `PFUndExt` (uint16, 1 register).
    pub const PFUndExt: u16 = 43;
    /// `IntIslandCat` (bitfield16, 1 register).
    pub const IntIslandCat: u16 = 44;
    /// `W_SF` (sunssf, 1 register).
    pub const W_SF: u16 = 45;
    /// `PF_SF` (sunssf, 1 register).
    pub const PF_SF: u16 = 46;
    /// `VA_SF` (sunssf, 1 register).
    pub const VA_SF: u16 = 47;
    /// `Var_SF` (sunssf, 1 register).
    pub const Var_SF: u16 = 48;
    /// `V_SF` (sunssf, 1 register).
    pub const V_SF: u16 = 49;
    /// `A_SF` (sunssf, 1 register).
    pub const A_SF: u16 = 50;
    /// `S_SF` (sunssf, 1 register).
    pub const S_SF: u16 = 51;
    /// `(offset, words)` of every point whose "not implemented" value is not all `0xFFFF`.
    pub const NON_FFFF_SENTINELS: &[(u16, &[u16])] = &[
        (45, &[0x8000]),
        (46, &[0x8000]),
        (47, &[0x8000]),
        (48, &[0x8000]),
        (49, &[0x8000]),
        (50, &[0x8000]),
        (51, &[0x8000]),
    ];
}

/// Points of model 704.
#[allow(dead_code, non_upper_case_globals)]
pub mod m704 {
    /// Model id.
    pub const MODEL_ID: u16 = 704;
    /// Registers in the model, header included (`L` + 2).
    pub const LEN: u16 = 67;
    /// `ID` (uint16, 1 register).
    pub const ID: u16 = 0;
    /// `L` (uint16, 1 register).
    pub const L: u16 = 1;
    /// `PFWInjEna` (enum16, 1 register).
    pub const PFWInjEna: u16 = 2;
    /// `PFWInjEnaRvrt` (enum16, 1 register).
    pub const PFWInjEnaRvrt: u16 = 3;
    /// `PFWInjRvrtTms` (uint32, 2 registers).
    pub const PFWInjRvrtTms: u16 = 4;
    /// `PFWInjRvrtRem` (uint32, 2 registers).
    pub const PFWInjRvrtRem: u16 = 6;
    /// `PFWAbsEna` (enum16, 1 register).
    pub const PFWAbsEna: u16 = 8;
    /// `PFWAbsEnaRvrt` (enum16, 1 register).
    pub const PFWAbsEnaRvrt: u16 = 9;
    /// `PFWAbsRvrtTms` (uint32, 2 registers).
    pub const PFWAbsRvrtTms: u16 = 10;
    /// `PFWAbsRvrtRem` (uint32, 2 registers).
    pub const PFWAbsRvrtRem: u16 = 12;
    /// `WMaxLimPctEna` (enum16, 1 register).
    pub const WMaxLimPctEna: u16 = 14;
    /// `WMaxLimPct` (uint16, 1 register).
    pub const WMaxLimPct: u16 = 15;
    /// `WMaxLimPctRvrt` (uint16, 1 register).
    pub const WMaxLimPctRvrt: u16 = 16;
    /// `WMaxLimPctEnaRvrt` (enum16, 1 register).
    pub const WMaxLimPctEnaRvrt: u16 = 17;
    /// `WMaxLimPctRvrtTms` (uint32, 2 registers).
    pub const WMaxLimPctRvrtTms: u16 = 18;
    /// `WMaxLimPctRvrtRem` (uint32, 2 registers).
    pub const WMaxLimPctRvrtRem: u16 = 20;
    /// `WSetEna` (enum16, 1 register).
    pub const WSetEna: u16 = 22;
    /// `WSetMod` (enum16, 1 register).
    pub const WSetMod: u16 = 23;
    /// `WSet` (int32, 2 registers).
    pub const WSet: u16 = 24;
    /// `WSetRvrt` (int32, 2 registers).
    pub const WSetRvrt: u16 = 26;
    /// `WSetPct` (int16, 1 register).
    pub const WSetPct: u16 = 28;
    /// `WSetPctRvrt` (int16, 1 register).
    pub const WSetPctRvrt: u16 = 29;
    /// `WSetEnaRvrt` (enum16, 1 register).
    pub const WSetEnaRvrt: u16 = 30;
    /// `WSetRvrtTms` (uint32, 2 registers).
    pub const WSetRvrtTms: u16 = 31;
    /// `WSetRvrtRem` (uint32, 2 registers).
    pub const WSetRvrtRem: u16 = 33;
    /// `VarSetEna` (enum16, 1 register).
    pub const VarSetEna: u16 = 35;
    /// `VarSetMod` (enum16, 1 register).
    pub const VarSetMod: u16 = 36;
    /// `VarSetPri` (enum16, 1 register).
    pub const VarSetPri: u16 = 37;
    /// `VarSet` (int32, 2 registers).
    pub const VarSet: u16 = 38;
    /// `VarSetRvrt` (int32, 2 registers).
    pub const VarSetRvrt: u16 = 40;
    /// `VarSetPct` (int16, 1 register).
    pub const VarSetPct: u16 = 42;
    /// `VarSetPctRvrt` (int16, 1 register).
    pub const VarSetPctRvrt: u16 = 43;
    /// `VarSetEnaRvrt` (enum16, 1 register).
    pub const VarSetEnaRvrt: u16 = 44;
    /// `VarSetRvrtTms` (uint32, 2 registers).
    pub const VarSetRvrtTms: u16 = 45;
    /// `VarSetRvrtRem` (uint32, 2 registers).
    pub const VarSetRvrtRem: u16 = 47;
    /// `WRmp` (uint16, 1 register).
    pub const WRmp: u16 = 49;
    /// `WRmpRef` (enum16, 1 register).
    pub const WRmpRef: u16 = 50;
    /// `VarRmp` (uint16, 1 register).
    pub const VarRmp: u16 = 51;
    /// `AntiIslEna` (enum16, 1 register).
    pub const AntiIslEna: u16 = 52;
    /// `PF_SF` (sunssf, 1 register).
    pub const PF_SF: u16 = 53;
    /// `WMaxLimPct_SF` (sunssf, 1 register).
    pub const WMaxLimPct_SF: u16 = 54;
    /// `WSet_SF` (sunssf, 1 register).
    pub const WSet_SF: u16 = 55;
    /// `WSetPct_SF` (sunssf, 1 register).
    pub const WSetPct_SF: u16 = 56;
    /// `VarSet_SF` (sunssf, 1 register).
    pub const VarSet_SF: u16 = 57;
    /// `VarSetPct_SF` (sunssf, 1 register).
    pub const VarSetPct_SF: u16 = 58;
    /// `PFWInj_PF` (uint16, 1 register).
    pub const PFWInj_PF: u16 = 59;
    /// `PFWInj_Ext` (enum16, 1 register).
    pub const PFWInj_Ext: u16 = 60;
    /// `PFWInjRvrt_PF` (uint16, 1 register).
    pub const PFWInjRvrt_PF: u16 = 61;
    /// `PFWInjRvrt_Ext` (enum16, 1 register).
    pub const PFWInjRvrt_Ext: u16 = 62;
    /// `PFWAbs_PF` (uint16, 1 register).
    pub const PFWAbs_PF: u16 = 63;
    /// `PFWAbs_Ext` (enum16, 1 register).
    pub const PFWAbs_Ext: u16 = 64;
    /// `PFWAbsRvrt_PF` (uint16, 1 register).
    pub const PFWAbsRvrt_PF: u16 = 65;
    /// `PFWAbsRvrt_Ext` (enum16, 1 register).
    pub const PFWAbsRvrt_Ext: u16 = 66;
    /// `(offset, words)` of every point whose "not implemented" value is not all `0xFFFF`.
    pub const NON_FFFF_SENTINELS: &[(u16, &[u16])] = &[
        (24, &[0x8000, 0x0]),
        (26, &[0x8000, 0x0]),
        (28, &[0x8000]),
        (29, &[0x8000]),
        (38, &[0x8000, 0x0]),
        (40, &[0x8000, 0x0]),
        (42, &[0x8000]),
        (43, &[0x8000]),
        (53, &[0x8000]),
        (54, &[0x8000]),
        (55, &[0x8000]),
        (56, &[0x8000]),
        (57, &[0x8000]),
        (58, &[0x8000]),
    ];
}

/// Points of model 802.
#[allow(dead_code, non_upper_case_globals)]
pub mod m802 {
    /// Model id.
    pub const MODEL_ID: u16 = 802;
    /// Registers in the model, header included (`L` + 2).
    pub const LEN: u16 = 64;
    /// `ID` (uint16, 1 register).
    pub const ID: u16 = 0;
    /// `L` (uint16, 1 register).
    pub const L: u16 = 1;
    /// `AHRtg` (uint16, 1 register).
    pub const AHRtg: u16 = 2;
    /// `WHRtg` (uint16, 1 register).
    pub const WHRtg: u16 = 3;
    /// `WChaRteMax` (uint16, 1 register).
    pub const WChaRteMax: u16 = 4;
    /// `WDisChaRteMax` (uint16, 1 register).
    pub const WDisChaRteMax: u16 = 5;
    /// `DisChaRte` (uint16, 1 register).
    pub const DisChaRte: u16 = 6;
    /// `SoCMax` (uint16, 1 register).
    pub const SoCMax: u16 = 7;
    /// `SoCMin` (uint16, 1 register).
    pub const SoCMin: u16 = 8;
    /// `SocRsvMax` (uint16, 1 register).
    pub const SocRsvMax: u16 = 9;
    /// `SoCRsvMin` (uint16, 1 register).
    pub const SoCRsvMin: u16 = 10;
    /// `SoC` (uint16, 1 register).
    pub const SoC: u16 = 11;
    /// `DoD` (uint16, 1 register).
    pub const DoD: u16 = 12;
    /// `SoH` (uint16, 1 register).
    pub const SoH: u16 = 13;
    /// `NCyc` (uint32, 2 registers).
    pub const NCyc: u16 = 14;
    /// `ChaSt` (enum16, 1 register).
    pub const ChaSt: u16 = 16;
    /// `LocRemCtl` (enum16, 1 register).
    pub const LocRemCtl: u16 = 17;
    /// `Hb` (uint16, 1 register).
    pub const Hb: u16 = 18;
    /// `CtrlHb` (uint16, 1 register).
    pub const CtrlHb: u16 = 19;
    /// `AlmRst` (uint16, 1 register).
    pub const AlmRst: u16 = 20;
    /// `Typ` (enum16, 1 register).
    pub const Typ: u16 = 21;
    /// `State` (enum16, 1 register).
    pub const State: u16 = 22;
    /// `StateVnd` (enum16, 1 register).
    pub const StateVnd: u16 = 23;
    /// `WarrDt` (uint32, 2 registers).
    pub const WarrDt: u16 = 24;
    /// `Evt1` (bitfield32, 2 registers).
    pub const Evt1: u16 = 26;
    /// `Evt2` (bitfield32, 2 registers).
    pub const Evt2: u16 = 28;
    /// `EvtVnd1` (bitfield32, 2 registers).
    pub const EvtVnd1: u16 = 30;
    /// `EvtVnd2` (bitfield32, 2 registers).
    pub const EvtVnd2: u16 = 32;
    /// `V` (uint16, 1 register).
    pub const V: u16 = 34;
    /// `VMax` (uint16, 1 register).
    pub const VMax: u16 = 35;
    /// `VMin` (uint16, 1 register).
    pub const VMin: u16 = 36;
    /// `CellVMax` (uint16, 1 register).
    pub const CellVMax: u16 = 37;
    /// `CellVMaxStr` (uint16, 1 register).
    pub const CellVMaxStr: u16 = 38;
    /// `CellVMaxMod` (uint16, 1 register).
    pub const CellVMaxMod: u16 = 39;
    /// `CellVMin` (uint16, 1 register).
    pub const CellVMin: u16 = 40;
    /// `CellVMinStr` (uint16, 1 register).
    pub const CellVMinStr: u16 = 41;
    /// `CellVMinMod` (uint16, 1 register).
    pub const CellVMinMod: u16 = 42;
    /// `CellVAvg` (uint16, 1 register).
    pub const CellVAvg: u16 = 43;
    /// `A` (int16, 1 register).
    pub const A: u16 = 44;
    /// `AChaMax` (uint16, 1 register).
    pub const AChaMax: u16 = 45;
    /// `ADisChaMax` (uint16, 1 register).
    pub const ADisChaMax: u16 = 46;
    /// `W` (int16, 1 register).
    pub const W: u16 = 47;
    /// `ReqInvState` (enum16, 1 register).
    pub const ReqInvState: u16 = 48;
    /// `ReqW` (int16, 1 register).
    pub const ReqW: u16 = 49;
    /// `SetOp` (enum16, 1 register).
    pub const SetOp: u16 = 50;
    /// `SetInvState` (enum16, 1 register).
    pub const SetInvState: u16 = 51;
    /// `AHRtg_SF` (sunssf, 1 register).
    pub const AHRtg_SF: u16 = 52;
    /// `WHRtg_SF` (sunssf, 1 register).
    pub const WHRtg_SF: u16 = 53;
    /// `WChaDisChaMax_SF` (sunssf, 1 register).
    pub const WChaDisChaMax_SF: u16 = 54;
    /// `DisChaRte_SF` (sunssf, 1 register).
    pub const DisChaRte_SF: u16 = 55;
    /// `SoC_SF` (sunssf, 1 register).
    pub const SoC_SF: u16 = 56;
    /// `DoD_SF` (sunssf, 1 register).
    pub const DoD_SF: u16 = 57;
    /// `SoH_SF` (sunssf, 1 register).
    pub const SoH_SF: u16 = 58;
    /// `V_SF` (sunssf, 1 register).
    pub const V_SF: u16 = 59;
    /// `CellV_SF` (sunssf, 1 register).
    pub const CellV_SF: u16 = 60;
    /// `A_SF` (sunssf, 1 register).
    pub const A_SF: u16 = 61;
    /// `AMax_SF` (sunssf, 1 register).
    pub const AMax_SF: u16 = 62;
    /// `W_SF` (sunssf, 1 register).
    pub const W_SF: u16 = 63;
    /// `(offset, words)` of every point whose "not implemented" value is not all `0xFFFF`.
    pub const NON_FFFF_SENTINELS: &[(u16, &[u16])] = &[
        (44, &[0x8000]),
        (47, &[0x8000]),
        (49, &[0x8000]),
        (52, &[0x8000]),
        (53, &[0x8000]),
        (54, &[0x8000]),
        (55, &[0x8000]),
        (56, &[0x8000]),
        (57, &[0x8000]),
        (58, &[0x8000]),
        (59, &[0x8000]),
        (60, &[0x8000]),
        (61, &[0x8000]),
        (62, &[0x8000]),
        (63, &[0x8000]),
    ];
}
