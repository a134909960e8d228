/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The REST API (v1) served by the control thread: request routing, JSON in
 * and out. Handlers run on the control thread only.
 */
#ifndef KDP_API_H
#define KDP_API_H

#include <event2/http.h>

#include "kdp.h"

/** evhttp generic callback; @p arg is the struct kdp. */
void kdp_api_handle(struct evhttp_request *req, void *arg);

/**
 * Makes the answers libevent gives itself (a body over *@p max_body bytes:
 * 413; a malformed request: 400) JSON {"error": ...} like kdp's own
 * (kdp_api_guard.c). @p max_body must outlive @p http.
 */
void kdp_api_guard_install(struct evhttp *http, const uint32_t *max_body);

#endif
