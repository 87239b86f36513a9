# cython: language_level=3
"""lbcore's public C API: every exported ``lb_*`` kernel and struct, in one place.

Cython code writes ``from lbcore cimport lb_flow_hash, lb_maglev_lookup`` (or
``cimport lbcore``) with ``lbcore.get_include()`` on its include path; the kernels are
``noexcept nogil`` and single-typed, and are reached through the compiled modules'
``__pyx_capi__`` (importing the calling module imports ``lbcore._<family>``), so nothing
is linked. The declarations, with their documentation, live in the family ``.pxd`` files."""

from lbcore._alias cimport (lb_alias, lb_alias_build, lb_alias_sample, lb_alias_pick,
                            lb_alias_pick_many, LB_ALIAS_MAX_TRIES)

from lbcore._bucket cimport (lb_bucket_try_acquire, lb_bucket_acquire_many,
                             lb_bucket_period_id, lb_bucket_check_chain,
                             lb_bucket_check_chains, lb_bucket_acquire1, LB_TOK, LB_LAST,
                             LB_RATE, LB_SCALE, LB_CAP, LB_MAXC, LB_BUCKET_STRIDE,
                             LB_BUCKET_OK, LB_BUCKET_ERR_INDEX, LB_BUCKET_ERR_TIME,
                             LB_BUCKET_ERR_COST, LB_Q_PERIOD, LB_Q_USED, LB_Q_LIMIT,
                             LB_Q_OFFSET, LB_Q_INITIAL, LB_Q_KIND, LB_QUOTA_STRIDE,
                             LB_PERIOD_DAY, LB_PERIOD_WEEK, LB_PERIOD_MONTH,
                             LB_CHECK_ALLOWED, LB_CHECK_QUOTA, LB_CHECK_LEVEL0,
                             LB_CHECK_ERR_TIME, LB_CHECK_ERR_INDEX)

from lbcore._dnspick cimport (lb_dnspick_seed, lb_dnspick_weighted,
                              lb_dnspick_weighted_many, lb_dnspick_shuffle)

from lbcore._flowtable cimport (lb_flow_key, lb_ft_entry, lb_flowtable,
                                lb_flowtable_lookup, lb_flowtable_insert,
                                lb_flowtable_lookup_many, lb_flowtable_insert_many,
                                lb_flowtable_make_key, lb_flowtable_find, lb_flowtable_add,
                                lb_flowtable_remove, lb_flowtable_forget_target,
                                lb_flowtable_expire, LB_FT_TCP, LB_FT_UDP, LB_FT_OTHER,
                                LB_FT_CLASSES)

from lbcore._geneve cimport (lb_geneve_check, lb_geneve_find_option,
                             lb_geneve_write_header, LB_GENEVE_BASE_LEN,
                             LB_GENEVE_ETRUNCATED, LB_GENEVE_EVERSION, LB_GENEVE_EOPTLEN,
                             LB_GENEVE_EOPTION, LB_GENEVE_ERESERVED, LB_GENEVE_ENOTFOUND)

from lbcore._geo cimport (lb_geo_distance, lb_geo_biased, lb_geo_unit_many, lb_geo_nearest,
                          lb_geo_nearest_many, lb_geo_distance_many, LB_GEO_EARTH_RADIUS_KM)

from lbcore._hash cimport (lb_hash_keys, lb_flow_hash, lb_flow_hash_k, lb_flow_hash_many,
                           lb_hash_u64, lb_hash_bytes, lb_splitmix64, lb_mix64, lb_hash_keys_init,
                           lb_flow_hash_keyed, lb_mum)

from lbcore._types cimport (LB_FLOW_IPV6, LB_FLOW_HAS_SEQ, LB_FIELDS_5, LB_FIELDS_3,
                           LB_FIELDS_2)

from lbcore._jump cimport (lb_jump_hash, lb_jump_hash_many)

from lbcore._l4 cimport (lb_l4_route_many, lb_l4_route_fields, lb_l4_close_fields,
                         lb_l4_path, lb_l4_lock, lb_l4_selection, lb_l4_config,
                         LB_L4_DROPPED, LB_L4_NEW, LB_L4_NO_TARGET, LB_L4_BLOCK, LB_L4_FULL,
                         LB_L4_REFUSED)

from lbcore._lor cimport (lb_lor_node, lb_lor, lb_lor_acquire, lb_lor_acquire_p2c,
                          lb_lor_acquire_at, lb_lor_release, lb_lor_set_available,
                          lb_lor_less, lb_lor_less1)

from lbcore._lpm cimport (lb_lpm_lookup4, lb_lpm_lookup6, lb_lpm_lookup4_many,
                          lb_lpm_lookup6_many, lb_lpm_lookup_mixed_many)

from lbcore._maglev cimport (lb_maglev_populate, lb_maglev_lookup, lb_maglev_lookup_many,
                             lb_maglev_select_flows, lb_maglev_slot)

from lbcore._rendezvous cimport (lb_rendezvous_select, lb_rendezvous_select_many,
                                 lb_rendezvous_top, lb_rendezvous_pair)

from lbcore._rng cimport (lb_rng, lb_rng_seed, lb_rng_next, lb_rng_uniform, lb_rng_bounded,
                          lb_mul_hi64, lb_mul_lo64)

from lbcore._roundrobin cimport (lb_roundrobin, lb_roundrobin_pick,
                                 lb_roundrobin_pick_many, lb_roundrobin_ramp)

from lbcore._sim cimport (lb_sim_completion, lb_sim_pick_cdf, LB_SIM_ROUND_ROBIN,
                          LB_SIM_LEAST_OUTSTANDING, LB_SIM_WEIGHTED_RANDOM,
                          LB_SIM_FLOW_HASH, LB_SIM_POWER_OF_TWO, LB_SIM_CONSTANT,
                          LB_SIM_EXPONENTIAL, LB_SIM_LOGNORMAL, LB_SIM_LAT_BINS,
                          LB_SIM_LAT_PER_DECADE, LB_SIM_LAT_MIN_DECADE, LB_SIM_OUT_BINS)
