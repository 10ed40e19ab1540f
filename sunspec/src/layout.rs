//! SunSpec point offsets and "not implemented" sentinels of models 1, 201, 701, 702, 704 and 802.
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
/// Points of model 201 (single-phase meter; `W` > 0 imports from the grid).
#[allow(dead_code, non_upper_case_globals)]
pub mod m201 {
    /// Model id.
    pub const MODEL_ID: u16 = 201;
    /// Registers in the model, header included (`L` + 2).
    pub const LEN: u16 = 107;
    /// `ID` (uint16, 1 register).
    pub const ID: u16 = 0;
    /// `L` (uint16, 1 register).
    pub const L: u16 = 1;
    /// `A` (int16, 1 register).
    pub const A: u16 = 2;
    /// `AphA` (int16, 1 register).
    pub const AphA: u16 = 3;
    /// `AphB` (int16, 1 register).
    pub const AphB: u16 = 4;
    /// `AphC` (int16, 1 register).
    pub const AphC: u16 = 5;
    /// `A_SF` (sunssf, 1 register).
    pub const A_SF: u16 = 6;
    /// `PhV` (int16, 1 register).
    pub const PhV: u16 = 7;
    /// `PhVphA` (int16, 1 register).
    pub const PhVphA: u16 = 8;
    /// `PhVphB` (int16, 1 register).
    pub const PhVphB: u16 = 9;
    /// `PhVphC` (int16, 1 register).
    pub const PhVphC: u16 = 10;
    /// `PPV` (int16, 1 register).
    pub const PPV: u16 = 11;
    /// `PPVphAB` (int16, 1 register).
    pub const PPVphAB: u16 = 12;
    /// `PPVphBC` (int16, 1 register).
    pub const PPVphBC: u16 = 13;
    /// `PPVphCA` (int16, 1 register).
    pub const PPVphCA: u16 = 14;
    /// `V_SF` (sunssf, 1 register).
    pub const V_SF: u16 = 15;
    /// `Hz` (int16, 1 register).
    pub const Hz: u16 = 16;
    /// `Hz_SF` (sunssf, 1 register).
    pub const Hz_SF: u16 = 17;
    /// `W` (int16, 1 register).
    pub const W: u16 = 18;
    /// `WphA` (int16, 1 register).
    pub const WphA: u16 = 19;
    /// `WphB` (int16, 1 register).
    pub const WphB: u16 = 20;
    /// `WphC` (int16, 1 register).
    pub const WphC: u16 = 21;
    /// `W_SF` (sunssf, 1 register).
    pub const W_SF: u16 = 22;
    /// `VA` (int16, 1 register).
    pub const VA: u16 = 23;
    /// `VAphA` (int16, 1 register).
    pub const VAphA: u16 = 24;
    /// `VAphB` (int16, 1 register).
    pub const VAphB: u16 = 25;
    /// `VAphC` (int16, 1 register).
    pub const VAphC: u16 = 26;
    /// `VA_SF` (sunssf, 1 register).
    pub const VA_SF: u16 = 27;
    /// `VAR` (int16, 1 register).
    pub const VAR: u16 = 28;
    /// `VARphA` (int16, 1 register).
    pub const VARphA: u16 = 29;
    /// `VARphB` (int16, 1 register).
    pub const VARphB: u16 = 30;
    /// `VARphC` (int16, 1 register).
    pub const VARphC: u16 = 31;
    /// `VAR_SF` (sunssf, 1 register).
    pub const VAR_SF: u16 = 32;
    /// `PF` (int16, 1 register).
    pub const PF: u16 = 33;
    /// `PFphA` (int16, 1 register).
    pub const PFphA: u16 = 34;
    /// `PFphB` (int16, 1 register).
    pub const PFphB: u16 = 35;
    /// `PFphC` (int16, 1 register).
    pub const PFphC: u16 = 36;
    /// `PF_SF` (sunssf, 1 register).
    pub const PF_SF: u16 = 37;
    /// `TotWhExp` (acc32, 2 registers).
    pub const TotWhExp: u16 = 38;
    /// `TotWhExpPhA` (acc32, 2 registers).
    pub const TotWhExpPhA: u16 = 40;
    /// `TotWhExpPhB` (acc32, 2 registers).
    pub const TotWhExpPhB: u16 = 42;
    /// `TotWhExpPhC` (acc32, 2 registers).
    pub const TotWhExpPhC: u16 = 44;
    /// `TotWhImp` (acc32, 2 registers).
    pub const TotWhImp: u16 = 46;
    /// `TotWhImpPhA` (acc32, 2 registers).
    pub const TotWhImpPhA: u16 = 48;
    /// `TotWhImpPhB` (acc32, 2 registers).
    pub const TotWhImpPhB: u16 = 50;
    /// `TotWhImpPhC` (acc32, 2 registers).
    pub const TotWhImpPhC: u16 = 52;
    /// `TotWh_SF` (sunssf, 1 register).
    pub const TotWh_SF: u16 = 54;
    /// `TotVAhExp` (acc32, 2 registers).
    pub const TotVAhExp: u16 = 55;
    /// `TotVAhExpPhA` (acc32, 2 registers).
    pub const TotVAhExpPhA: u16 = 57;
    /// `TotVAhExpPhB` (acc32, 2 registers).
    pub const TotVAhExpPhB: u16 = 59;
    /// `TotVAhExpPhC` (acc32, 2 registers).
    pub const TotVAhExpPhC: u16 = 61;
    /// `TotVAhImp` (acc32, 2 registers).
    pub const TotVAhImp: u16 = 63;
    /// `TotVAhImpPhA` (acc32, 2 registers).
    pub const TotVAhImpPhA: u16 = 65;
    /// `TotVAhImpPhB` (acc32, 2 registers).
    pub const TotVAhImpPhB: u16 = 67;
    /// `TotVAhImpPhC` (acc32, 2 registers).
    pub const TotVAhImpPhC: u16 = 69;
    /// `TotVAh_SF` (sunssf, 1 register).
    pub const TotVAh_SF: u16 = 71;
    /// `TotVArhImpQ1` (acc32, 2 registers).
    pub const TotVArhImpQ1: u16 = 72;
    /// `TotVArhImpQ1PhA` (acc32, 2 registers).
    pub const TotVArhImpQ1PhA: u16 = 74;
    /// `TotVArhImpQ1PhB` (acc32, 2 registers).
    pub const TotVArhImpQ1PhB: u16 = 76;
    /// `TotVArhImpQ1PhC` (acc32, 2 registers).
    pub const TotVArhImpQ1PhC: u16 = 78;
    /// `TotVArhImpQ2` (acc32, 2 registers).
    pub const TotVArhImpQ2: u16 = 80;
    /// `TotVArhImpQ2PhA` (acc32, 2 registers).
    pub const TotVArhImpQ2PhA: u16 = 82;
    /// `TotVArhImpQ2PhB` (acc32, 2 registers).
    pub const TotVArhImpQ2PhB: u16 = 84;
    /// `TotVArhImpQ2PhC` (acc32, 2 registers).
    pub const TotVArhImpQ2PhC: u16 = 86;
    /// `TotVArhExpQ3` (acc32, 2 registers).
    pub const TotVArhExpQ3: u16 = 88;
    /// `TotVArhExpQ3PhA` (acc32, 2 registers).
    pub const TotVArhExpQ3PhA: u16 = 90;
    /// `TotVArhExpQ3PhB` (acc32, 2 registers).
    pub const TotVArhExpQ3PhB: u16 = 92;
    /// `TotVArhExpQ3PhC` (acc32, 2 registers).
    pub const TotVArhExpQ3PhC: u16 = 94;
    /// `TotVArhExpQ4` (acc32, 2 registers).
    pub const TotVArhExpQ4: u16 = 96;
    /// `TotVArhExpQ4PhA` (acc32, 2 registers).
    pub const TotVArhExpQ4PhA: u16 = 98;
    /// `TotVArhExpQ4PhB` (acc32, 2 registers).
    pub const TotVArhExpQ4PhB: u16 = 100;
    /// `TotVArhExpQ4PhC` (acc32, 2 registers).
    pub const TotVArhExpQ4PhC: u16 = 102;
    /// `TotVArh_SF` (sunssf, 1 register).
    pub const TotVArh_SF: u16 = 104;
    /// `Evt` (bitfield32, 2 registers).
    pub const Evt: u16 = 105;
    /// `(offset, words)` of every point whose "not implemented" value is not all `0xFFFF`.
    pub const NON_FFFF_SENTINELS: &[(u16, &[u16])] = &[
        (2, &[0x8000]),
        (3, &[0x8000]),
        (4, &[0x8000]),
        (5, &[0x8000]),
        (6, &[0x8000]),
        (7, &[0x8000]),
        (8, &[0x8000]),
        (9, &[0x8000]),
        (10, &[0x8000]),
        (11, &[0x8000]),
        (12, &[0x8000]),
        (13, &[0x8000]),
        (14, &[0x8000]),
        (15, &[0x8000]),
        (16, &[0x8000]),
        (17, &[0x8000]),
        (18, &[0x8000]),
        (19, &[0x8000]),
        (20, &[0x8000]),
        (21, &[0x8000]),
        (22, &[0x8000]),
        (23, &[0x8000]),
        (24, &[0x8000]),
        (25, &[0x8000]),
        (26, &[0x8000]),
        (27, &[0x8000]),
        (28, &[0x8000]),
        (29, &[0x8000]),
        (30, &[0x8000]),
        (31, &[0x8000]),
        (32, &[0x8000]),
        (33, &[0x8000]),
        (34, &[0x8000]),
        (35, &[0x8000]),
        (36, &[0x8000]),
        (37, &[0x8000]),
        (38, &[0x0, 0x0]),
        (40, &[0x0, 0x0]),
        (42, &[0x0, 0x0]),
        (44, &[0x0, 0x0]),
        (46, &[0x0, 0x0]),
        (48, &[0x0, 0x0]),
        (50, &[0x0, 0x0]),
        (52, &[0x0, 0x0]),
        (54, &[0x8000]),
        (55, &[0x0, 0x0]),
        (57, &[0x0, 0x0]),
        (59, &[0x0, 0x0]),
        (61, &[0x0, 0x0]),
        (63, &[0x0, 0x0]),
        (65, &[0x0, 0x0]),
        (67, &[0x0, 0x0]),
        (69, &[0x0, 0x0]),
        (71, &[0x8000]),
        (72, &[0x0, 0x0]),
        (74, &[0x0, 0x0]),
        (76, &[0x0, 0x0]),
        (78, &[0x0, 0x0]),
        (80, &[0x0, 0x0]),
        (82, &[0x0, 0x0]),
        (84, &[0x0, 0x0]),
        (86, &[0x0, 0x0]),
        (88, &[0x0, 0x0]),
        (90, &[0x0, 0x0]),
        (92, &[0x0, 0x0]),
        (94, &[0x0, 0x0]),
        (96, &[0x0, 0x0]),
        (98, &[0x0, 0x0]),
        (100, &[0x0, 0x0]),
        (102, &[0x0, 0x0]),
        (104, &[0x8000]),
    ];
}
