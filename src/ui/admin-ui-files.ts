import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import express, { NextFunction, Request, Response } from 'express';
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { StorageConfig, storageConfig } from '../config/configuration';
import { cacheControlFor, REVALIDATE } from './cache-policy';
import { signInLocation } from './next-target';
import { SignInPages } from './sign-in-pages.service';
import { isBackendPath, wantsHtml } from './ui-requests';

const READ_METHODS = new Set(['GET', 'HEAD']);

/**
 * Serves the built admin UI in UI_DIR at `/`: its files, and its index.html for every other page a browser asks for (the
 * SPA's own routes). A page asked for without a valid session leads to the sign-in page first; scripts, styles and images
 * are no secret and go to anyone. Registered when modules initialise, after the API's routes and before the "not found"
 * answer, so it only sees requests the API leaves, and never answers for the backend's own paths.
 */
@Injectable()
export class AdminUiFiles implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(storageConfig.KEY) private readonly storage: StorageConfig,
    private readonly pages: SignInPages,
  ) {}

  onModuleInit(): void {
    const uiDir = this.storage.uiDir;
    if (uiDir === undefined) return;
    const indexFile = join(uiDir, 'index.html');
    if (!existsSync(indexFile)) throw new Error(`UI_DIR=${uiDir} has no index.html: build the admin UI into it, or unset UI_DIR`);
    const files = express.static(uiDir, {
      // Set by setHeaders instead, per file.
      cacheControl: false,
      // A directory is a page of the SPA, not a reason to redirect to `dir/`.
      redirect: false,
      setHeaders: (response, path) => response.setHeader('Cache-Control', cacheControlFor(relative(uiDir, path))),
    });
    this.adapterHost.httpAdapter.use(async (request: Request, response: Response, next: NextFunction) => {
      if (!READ_METHODS.has(request.method) || isBackendPath(request.path)) return next();
      const page = wantsHtml(request.headers.accept);
      if (page && !(await this.pages.isSignedIn(request))) {
        response.setHeader('Cache-Control', 'no-store');
        return response.redirect(signInLocation(this.pages.safeTarget(request, request.originalUrl)));
      }
      // Not a file of UI_DIR (missing, or a path that tries to leave it): a page of the SPA, or not found.
      const notAFile = (error?: unknown) => {
        if (error || !page) return next(error);
        response.sendFile(indexFile, { cacheControl: false, headers: { 'Cache-Control': REVALIDATE } }, (sendError) => sendError && next(sendError));
      };
      files(request, response, notAFile);
    });
  }
}
